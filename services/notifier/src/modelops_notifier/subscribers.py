"""The notifier's durable consumers: one per event type it consumes."""

from faststream.nats import NatsRouter

from modelops_notifier.app_deps import Deps
from modelops_servicekit.runtime import Runtime


def build_router(runtime: Runtime, deps: Deps) -> NatsRouter:
    """Wire each consumed event to its handler."""
    router = NatsRouter()
    runtime.consume_all(router, deps.inbox_record)
    return router

"""The builder's durable consumers: one per event type it consumes."""

from faststream.nats import NatsRouter

from modelops_builder.app_deps import Deps
from modelops_contracts.events import ModelVersionRegistered
from modelops_servicekit.runtime import Runtime


def build_router(runtime: Runtime, deps: Deps) -> NatsRouter:
    """Wire each consumed event to its handler."""
    router = NatsRouter()
    runtime.consume(router, ModelVersionRegistered, deps.inbox_record)
    return router

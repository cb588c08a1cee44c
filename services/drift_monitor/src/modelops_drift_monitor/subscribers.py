"""The drift monitor's durable consumers: one per event type it consumes."""

from faststream.nats import NatsRouter

from modelops_contracts.events import CollectionWindowClosed, DatasetVersionRegistered
from modelops_drift_monitor.app_deps import Deps
from modelops_servicekit.runtime import Runtime


def build_router(runtime: Runtime, deps: Deps) -> NatsRouter:
    """Wire each consumed event to its handler."""
    router = NatsRouter()
    runtime.consume(router, CollectionWindowClosed, deps.inbox_record)
    runtime.consume(router, DatasetVersionRegistered, deps.inbox_record)
    return router

"""The data collector's durable consumers: one per event type it consumes."""

from faststream.nats import NatsRouter

from modelops_contracts.events import PredictionLogged
from modelops_data_collector.app_deps import Deps
from modelops_servicekit.runtime import Runtime


def build_router(runtime: Runtime, deps: Deps) -> NatsRouter:
    """Wire each consumed event to its handler."""
    router = NatsRouter()
    runtime.consume(router, PredictionLogged, deps.inbox_record)
    return router

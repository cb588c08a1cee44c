"""The registry's durable consumers: one per event type it consumes."""

from faststream.nats import NatsRouter

from modelops_contracts.events import DeploymentStateChanged, ImageBuilt, RunCompleted
from modelops_registry.app_deps import Deps
from modelops_servicekit.runtime import Runtime


def build_router(runtime: Runtime, deps: Deps) -> NatsRouter:
    """Wire each consumed event to its handler."""
    router = NatsRouter()
    runtime.consume(router, RunCompleted, deps.inbox_record)
    runtime.consume(router, DeploymentStateChanged, deps.inbox_record)
    runtime.consume(router, ImageBuilt, deps.inbox_record)
    return router

"""The scoring gateway's durable consumers: one per event type it consumes."""

from faststream.nats import NatsRouter

from modelops_contracts.events import DeploymentStateChanged, EndpointUpdated
from modelops_scoring_gateway.app_deps import Deps
from modelops_servicekit.runtime import Runtime


def build_router(runtime: Runtime, deps: Deps) -> NatsRouter:
    """Wire each consumed event to its handler."""
    router = NatsRouter()
    runtime.consume(router, EndpointUpdated, deps.inbox_record)
    runtime.consume(router, DeploymentStateChanged, deps.inbox_record)
    return router

"""The scoring gateway's durable consumers: deployer facts that change the routing table."""

from faststream.nats import NatsRouter

from modelops_contracts.events import DeploymentStateChanged, EndpointUpdated
from modelops_scoring_gateway.sync import RoutingSync
from modelops_servicekit.runtime import Runtime


def build_router(runtime: Runtime, sync: RoutingSync) -> NatsRouter:
    """Wire each consumed event to the routing sync."""
    router = NatsRouter()
    runtime.consume(router, EndpointUpdated, sync.on_endpoint_updated)
    runtime.consume(router, DeploymentStateChanged, sync.on_deployment_state_changed)
    return router

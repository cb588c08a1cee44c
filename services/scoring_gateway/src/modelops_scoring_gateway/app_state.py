"""What one gateway process holds, shared by the hot path and the API."""

from dataclasses import dataclass

from modelops_scoring_gateway.admission import Admission
from modelops_scoring_gateway.mirror import Mirror
from modelops_scoring_gateway.routing import RoutingTable
from modelops_scoring_gateway.sampling import PredictionLog
from modelops_scoring_gateway.stats import Stats
from modelops_scoring_gateway.sync import RoutingSync
from modelops_scoring_gateway.upstream import Upstreams


@dataclass
class GatewayState:
    """The routing table and everything around it, built once per process in `wire`."""

    table: RoutingTable
    admission: Admission
    stats: Stats
    upstreams: Upstreams
    predictions: PredictionLog
    mirror: Mirror
    sync: RoutingSync

    async def close(self) -> None:
        """Stop background work; flush sampled predictions; close upstream connections."""
        await self.sync.stop()
        await self.mirror.drain()
        await self.predictions.stop()
        await self.upstreams.close()

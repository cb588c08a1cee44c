"""Keeps the routing table current: deployer events as they come, its API now and then."""

import asyncio
import contextlib
from typing import Any

import structlog

from modelops_contracts.events import DeploymentStateChanged, EndpointUpdated
from modelops_scoring_gateway.admission import Admission
from modelops_scoring_gateway.keys import KeyBook
from modelops_scoring_gateway.routing import RoutingTable
from modelops_scoring_gateway.upstream import Upstreams

log = structlog.get_logger(__name__)


class DeployerApi:
    """The two deployer queries the gateway needs."""

    def __init__(self, upstreams: Upstreams, base_url: str) -> None:
        self._upstreams, self._base = upstreams, base_url.rstrip("/")

    async def routing(self) -> dict[str, Any]:
        doc = await self._upstreams.get_json(f"{self._base}/v1/routing")
        assert isinstance(doc, dict)
        return doc

    async def key_hashes(self, endpoint: str) -> tuple[int, list[bytes]]:
        url = f"{self._base}/v1/internal/endpoints/{endpoint}/key-hashes"
        doc = await self._upstreams.get_json(url)
        assert isinstance(doc, dict)
        return int(doc["keys_revision"]), [bytes.fromhex(h) for h in doc["hashes"]]


class RoutingSync:
    """Applies facts to the table (newest generation wins) and keeps limits and keys in step."""

    def __init__(
        self,
        table: RoutingTable,
        admission: Admission,
        keys: KeyBook,
        deployer: DeployerApi,
        resync_s: float,
    ) -> None:
        self.table, self.admission, self.keys = table, admission, keys
        self._deployer, self._resync_s = deployer, resync_s
        self._task: asyncio.Task[None] | None = None

    async def on_endpoint_updated(self, event: EndpointUpdated) -> None:
        endpoint = self.table.apply_endpoint(event)
        if endpoint is not None and endpoint.needs_keys:
            await self.keys.refresh(endpoint)  # raises -> redelivered, hashes fetched later
        log.info("endpoint_routed", endpoint=event.endpoint_name, generation=event.generation)

    async def on_deployment_state_changed(self, event: DeploymentStateChanged) -> None:
        target = self.table.apply_deployment(event)
        if target is None:
            if event.state == "Deleted":
                self.admission.forget(event.deployment_name)
            return
        self.admission.configure(target.name, target.capacity, target.max_queue_wait_s)
        log.info(
            "deployment_routed",
            deployment=target.name,
            state=target.state,
            upstreams=len(target.upstreams),
            generation=target.generation,
        )

    async def load(self) -> None:
        """Apply the deployer's whole routing snapshot (older facts are ignored as usual)."""
        doc = await self._deployer.routing()
        for raw in doc.get("deployments", []):
            await self.on_deployment_state_changed(DeploymentStateChanged.model_validate(raw))
        for raw in doc.get("endpoints", []):
            await self.on_endpoint_updated(EndpointUpdated.model_validate(raw))
        for endpoint in self.table.endpoints.values():
            if endpoint.needs_keys:
                await self.keys.refresh(endpoint)

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                await self.load()
                delay = self._resync_s
            except Exception as exc:  # the deployer may start after us: keep trying
                log.warning("routing_snapshot_failed", error=repr(exc))
                delay = min(delay * 2, self._resync_s)
            await asyncio.sleep(delay)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="routing-sync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

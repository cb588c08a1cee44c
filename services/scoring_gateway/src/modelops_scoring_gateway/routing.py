"""The routing table: endpoints and their deployments, from deployer facts, newest generation wins.

Pure: no I/O. The hot path reads `Route`s; events and snapshots replace them.
"""

import bisect
import random
from dataclasses import dataclass, field

from modelops_contracts.events import DeploymentStateChanged, EndpointUpdated

ROUTABLE_STATES = frozenset({"Healthy", "Unhealthy", "Transitioning"})


@dataclass
class Target:
    """One deployment as the gateway routes to it."""

    name: str
    endpoint: str
    model_name: str
    version: str
    state: str
    upstreams: list[str]
    max_concurrency: int
    request_timeout_s: float
    max_queue_wait_s: float
    data_collection: bool
    sample_rate: float
    generation: int
    _next: int = 0
    answer_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    """The headers every answer from this deployment carries (made once)."""
    log_key: tuple[str, str, str, str] = ("", "", "", "")
    """(endpoint, deployment, model, version): how its logged predictions are grouped."""

    def __post_init__(self) -> None:
        self.log_key = (self.endpoint, self.name, self.model_name, self.version)
        self.answer_headers = [(b"modelops-deployment", self.name.encode()),
                               (b"modelops-model-version", self.version.encode())]  # fmt: skip

    @property
    def routable(self) -> bool:
        return bool(self.upstreams) and self.state in ROUTABLE_STATES

    @property
    def capacity(self) -> int:
        return max(1, self.max_concurrency) * max(1, len(self.upstreams))

    def upstream_order(self) -> list[str]:
        """Replicas in round-robin order starting at the next one (retries walk the rest)."""
        ups = self.upstreams
        start = self._next % len(ups)
        self._next += 1
        return ups[start:] + ups[:start] if start else ups


@dataclass
class Endpoint:
    """One endpoint: traffic and mirror split, auth mode and key hashes."""

    name: str
    traffic: dict[str, int]
    mirror: dict[str, int]
    auth_mode: str
    keys_revision: int
    generation: int
    key_hashes: list[bytes] = field(default_factory=list)
    hashes_revision: int = -1
    _cumulative: list[int] = field(default_factory=list)
    _names: list[str] = field(default_factory=list)

    @property
    def needs_keys(self) -> bool:
        return self.auth_mode == "key" and self.hashes_revision < self.keys_revision


class RoutingTable:
    """Endpoints and deployments; older generations of either are dropped."""

    def __init__(self) -> None:
        self.endpoints: dict[str, Endpoint] = {}
        self.targets: dict[str, Target] = {}
        self._endpoint_gen: dict[str, int] = {}
        self._target_gen: dict[str, int] = {}

    def apply_endpoint(self, event: EndpointUpdated) -> Endpoint | None:
        """Apply an endpoint fact; returns the endpoint when it changed (None: stale or gone)."""
        name = event.endpoint_name
        if event.generation <= self._endpoint_gen.get(name, -1):
            return None
        self._endpoint_gen[name] = event.generation
        if event.deleted:
            self.endpoints.pop(name, None)
            return None
        old = self.endpoints.get(name)
        endpoint = Endpoint(
            name,
            dict(event.traffic),
            dict(event.mirror),
            event.auth_mode,
            event.keys_revision,
            event.generation,
        )
        if old is not None:
            endpoint.key_hashes, endpoint.hashes_revision = old.key_hashes, old.hashes_revision
        self.endpoints[name] = endpoint
        self._rebuild(endpoint)
        return endpoint

    def apply_deployment(self, event: DeploymentStateChanged) -> Target | None:
        """Apply a deployment fact; returns the target when it changed (None: stale or gone)."""
        name = event.deployment_name
        if event.generation <= self._target_gen.get(name, -1):
            return None
        self._target_gen[name] = event.generation
        if event.state == "Deleted":
            self.targets.pop(name, None)
            target = None
        else:
            target = Target(
                name,
                event.endpoint_name,
                event.model_name,
                str(event.version),
                str(event.state),
                list(event.upstreams),
                event.max_concurrency,
                event.request_timeout_s,
                event.max_queue_wait_s,
                event.data_collection,
                event.sample_rate,
                event.generation,
            )
            self.targets[name] = target
        endpoint = self.endpoints.get(event.endpoint_name)
        if endpoint is not None:
            self._rebuild(endpoint)
        return target

    def _rebuild(self, endpoint: Endpoint) -> None:
        """Cumulative weights over the routable deployments with traffic > 0."""
        total, cumulative, names = 0, [], []
        for name, percent in sorted(endpoint.traffic.items()):
            target = self.targets.get(name)
            if percent > 0 and target is not None and target.routable:
                total += percent
                cumulative.append(total)
                names.append(name)
        endpoint._cumulative, endpoint._names = cumulative, names

    def pick(self, endpoint: Endpoint, rand: float | None = None) -> Target | None:
        """A deployment by weighted random split (None when nothing is routable)."""
        if not endpoint._names:
            return None
        roll = (random.random() if rand is None else rand) * endpoint._cumulative[-1]  # noqa: S311
        index = bisect.bisect_right(endpoint._cumulative, roll)
        return self.targets.get(endpoint._names[min(index, len(endpoint._names) - 1)])

    def pinned(self, endpoint: Endpoint, deployment: str) -> Target | None:
        """The named deployment when it belongs to the endpoint."""
        target = self.targets.get(deployment)
        if target is None or target.endpoint != endpoint.name:
            return None
        return target

    def rebuild_all(self) -> None:
        for endpoint in self.endpoints.values():
            self._rebuild(endpoint)

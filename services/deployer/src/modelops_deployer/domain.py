"""Endpoints, deployments and rollouts: the rules, with no I/O."""

import hashlib
import math
import secrets
from dataclasses import dataclass
from typing import Any

from modelops_servicekit.errors import Invalid

STATES = ("Transitioning", "Healthy", "Unhealthy", "Unschedulable", "Failed")
KEY_SLOTS = ("primary", "secondary")
STEPS, BAKE_S = (10, 50, 100), 60.0
"""A rollout's default traffic steps (percent), each baked this many seconds."""
GUARDS = {"max_error_rate": 0.01, "max_p99_ms": 1000.0, "min_requests": 20}
"""A rollout's default guards: rolled back beyond 1% errors or a p99 of 1 s (20 requests on)."""
DEFAULT_ROLLOUT: dict[str, Any] = {"steps": list(STEPS), "bake_s": BAKE_S, "guards": GUARDS}
"""The rollout a follow starts when its endpoint has no `follow_rollout` of its own."""


def new_key() -> str:
    """A fresh endpoint key: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """SHA-256 hex of a key (keys are random, so no salt or stretching is needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def check_traffic(traffic: dict[str, int], deployments: set[str]) -> None:
    """Traffic names existing deployments of the endpoint and sums to 100 (or is empty)."""
    unknown = set(traffic) - deployments
    if unknown:
        raise Invalid(f"traffic names deployments that do not exist: {sorted(unknown)}")
    if any(p < 0 or p > 100 for p in traffic.values()):
        raise Invalid("traffic percentages are between 0 and 100")
    if traffic and sum(traffic.values()) != 100:
        raise Invalid(f"traffic must sum to 100, not {sum(traffic.values())}")


def check_mirror(mirror: dict[str, int], traffic: dict[str, int], deployments: set[str]) -> None:
    """Mirror names existing deployments, takes no live traffic, and is at most 50% in total."""
    unknown = set(mirror) - deployments
    if unknown:
        raise Invalid(f"mirror names deployments that do not exist: {sorted(unknown)}")
    if sum(mirror.values()) > 50 or any(p < 0 for p in mirror.values()):
        raise Invalid("mirror traffic is at most 50% in total")
    live = [name for name in mirror if traffic.get(name, 0) > 0 and mirror[name] > 0]
    if live:
        raise Invalid(f"deployments cannot take live and mirrored traffic: {live}")


def check_steps(steps: list[int]) -> list[int]:
    """A rollout's traffic steps: rising, ending at 100."""
    steps = [int(s) for s in steps]
    if not steps or steps[-1] != 100 or sorted(steps) != steps or steps[0] < 0:
        raise Invalid("steps rise and end at 100")
    return steps


def parse_follow(ref: str) -> tuple[str, str]:
    """`model@alias`, what an endpoint follows -> (model, alias)."""
    name, sep, alias = ref.partition("@")
    if not (name and sep and alias):
        raise Invalid(f"follow is model@alias, not {ref!r}")
    return name, alias


def is_evidence_against(target: dict[str, Any], model_name: str, version: int | None) -> bool:
    """Does a drift or performance event speak against a rollout's target deployment?

    Only when it names the target's very version: input drift seen on an endpoint (no
    version) is no evidence against the new version, which is often the fix for it.
    """
    return version is not None and (target["model_name"], target["version"]) == (
        model_name,
        version,
    )


def parse_model_ref(ref: str) -> tuple[str, str]:
    """`name@alias`, `name:3` or `name/3` -> (name, selector); selector `latest` by default."""
    for sep in ("@", ":", "/"):
        if sep in ref:
            name, selector = ref.split(sep, 1)
            return name, ("@" + selector if sep == "@" else selector)
    return ref, "latest"


def desired_replicas(current: int, lo: int, hi: int, load: float, per_replica: int) -> int:
    """Replicas for the observed concurrency: enough to keep each replica at most 80% busy."""
    if hi <= lo:
        return lo
    wanted = math.ceil(load / max(1.0, per_replica * 0.8)) if load > 0 else lo
    if wanted < current:  # scale down one at a time
        wanted = current - 1
    return max(lo, min(hi, wanted))


@dataclass(frozen=True)
class Window:
    """Counts of one deployment between two snapshots of the gateway's cumulative stats."""

    requests: int
    errors: int
    buckets_ms: list[float]
    counts: list[int]

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def quantile(self, q: float) -> float | None:
        total = sum(self.counts)
        if not total:
            return None
        rank, seen = q * total, 0
        for i, count in enumerate(self.counts):
            if count and seen + count >= rank:
                return float(self.buckets_ms[i] if i < len(self.buckets_ms) else math.inf)
            seen += count
        return None


def window(before: dict[str, Any] | None, after: dict[str, Any]) -> Window:
    """The requests that happened between two `/v1/stats` entries of one deployment."""
    zero: dict[str, Any] = {
        "requests": 0,
        "errors": 0,
        "bucket_counts": [0] * len(after["bucket_counts"]),
    }
    b = before or zero
    counts = [
        int(x) - int(y) for x, y in zip(after["bucket_counts"], b["bucket_counts"], strict=True)
    ]
    return Window(
        int(after["requests"]) - int(b["requests"]),
        int(after["errors"]) - int(b["errors"]),
        [float(x) for x in after["buckets_ms"]],
        counts,
    )

"""Per-deployment counters and latency histograms, mirror comparison, and the A/B statistics.

The hot path only increments integers; Prometheus reads them through a collector at scrape time.
"""

import bisect
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000)


@dataclass
class DeploymentStats:
    """Cumulative counts of one deployment since the gateway started."""

    endpoint: str
    requests: int = 0
    errors: int = 0
    rejected: int = 0
    latency_sum_ms: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS_MS) + 1))
    statuses: dict[int, int] = field(default_factory=dict)

    def observe(self, status: int, latency_ms: float) -> None:
        self.requests += 1
        if status >= 500:
            self.errors += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.latency_sum_ms += latency_ms
        self.buckets[bisect.bisect_left(BUCKETS_MS, latency_ms)] += 1

    def as_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "requests": self.requests,
            "errors": self.errors,
            "rejected": self.rejected,
            "error_rate": self.errors / self.requests if self.requests else 0.0,
            "latency_ms": {
                "mean": self.latency_sum_ms / self.requests if self.requests else 0.0,
                "p50": quantile(self.buckets, 0.5),
                "p99": quantile(self.buckets, 0.99),
            },
            "buckets_ms": list(BUCKETS_MS),
            "bucket_counts": list(self.buckets),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }


@dataclass
class MirrorStats:
    """Shadow traffic to one deployment: how often it agreed with the live answer, how fast."""

    endpoint: str
    mirrored: int = 0
    agreed: int = 0
    errors: int = 0
    dropped: int = 0
    latency_diff_sum_ms: float = 0.0

    def as_json(self) -> dict[str, Any]:
        compared = self.mirrored - self.errors
        return {
            "endpoint": self.endpoint,
            "mirrored": self.mirrored,
            "agreed": self.agreed,
            "errors": self.errors,
            "dropped": self.dropped,
            "agreement_rate": self.agreed / compared if compared else None,
            "mean_latency_diff_ms": self.latency_diff_sum_ms / compared if compared else None,
        }


def quantile(counts: list[int], q: float) -> float | None:
    """A quantile (ms) from histogram counts, interpolated inside its bucket."""
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(counts):
        if count and seen + count >= rank:
            low = BUCKETS_MS[i - 1] if i > 0 else 0.0
            high = BUCKETS_MS[i] if i < len(BUCKETS_MS) else BUCKETS_MS[-1] * 2
            return float(low + (high - low) * (rank - seen) / count)
        seen += count
    return float(BUCKETS_MS[-1])


def two_proportion_z(errors_a: int, n_a: int, errors_b: int, n_b: int) -> dict[str, float | None]:
    """Two-proportion z-test on error rates: z and the two-sided p-value."""
    if n_a == 0 or n_b == 0:
        return {"z": None, "p_value": None}
    pooled = (errors_a + errors_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return {"z": 0.0, "p_value": 1.0}
    z = (errors_a / n_a - errors_b / n_b) / se
    return {"z": z, "p_value": math.erfc(abs(z) / math.sqrt(2))}


class Stats:
    """Every deployment's and mirror's stats, plus the gateway-wide drop counters."""

    def __init__(self) -> None:
        self.deployments: dict[str, DeploymentStats] = {}
        self.mirrors: dict[str, MirrorStats] = {}
        self.predictions_dropped = 0
        self.predictions_published = 0
        self.mirrors_dropped = 0

    def deployment(self, endpoint: str, name: str) -> DeploymentStats:
        stats = self.deployments.get(name)
        if stats is None:
            stats = self.deployments[name] = DeploymentStats(endpoint)
        return stats

    def mirror(self, endpoint: str, name: str) -> MirrorStats:
        stats = self.mirrors.get(name)
        if stats is None:
            stats = self.mirrors[name] = MirrorStats(endpoint)
        return stats

    def comparison(self, endpoint: str, a: str | None, b: str | None) -> dict[str, Any]:
        """Per-variant counts, error rates and latency, and the z-test between two of them."""
        variants = {n: s.as_json() for n, s in self.deployments.items() if s.endpoint == endpoint}
        names = sorted(variants)
        a, b = a or (names[0] if names else None), b or (names[1] if len(names) > 1 else None)
        test: dict[str, Any] = {"a": a, "b": b, "metric": "error_rate"}
        if a in self.deployments and b in self.deployments:
            sa, sb = self.deployments[a], self.deployments[b]
            test.update(two_proportion_z(sa.errors, sa.requests, sb.errors, sb.requests))
        mirrors = {n: s.as_json() for n, s in self.mirrors.items() if s.endpoint == endpoint}
        return {"endpoint": endpoint, "variants": variants, "test": test, "mirrors": mirrors}


class GatewayCollector(Collector):
    """Renders Stats as Prometheus families at scrape time."""

    def __init__(self, stats: Stats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Any]:
        s = self._stats
        labels = ["endpoint", "deployment"]
        requests = CounterMetricFamily(
            "modelops_gateway_requests", "Scoring requests by status", labels=[*labels, "status"]
        )
        rejected = CounterMetricFamily(
            "modelops_gateway_rejected", "Saturated (429)", labels=labels
        )
        latency = HistogramMetricFamily(
            "modelops_gateway_latency_seconds", "Scoring latency through the gateway", labels=labels
        )
        for name, d in s.deployments.items():
            for status, count in d.statuses.items():
                requests.add_metric([d.endpoint, name, str(status)], count)
            rejected.add_metric([d.endpoint, name], d.rejected)
            cumulative, acc = [], 0
            for bound, count in zip([*BUCKETS_MS, math.inf], d.buckets, strict=True):
                acc += count
                cumulative.append((str(bound / 1000) if bound != math.inf else "+Inf", acc))
            latency.add_metric([d.endpoint, name], cumulative, d.latency_sum_ms / 1000)
        agreement = GaugeMetricFamily(
            "modelops_gateway_mirror_agreement_ratio", "Mirror agreement", labels=labels
        )
        for name, m in s.mirrors.items():
            rate = m.as_json()["agreement_rate"]
            agreement.add_metric([m.endpoint, name], rate if rate is not None else math.nan)
        drops = CounterMetricFamily(
            "modelops_gateway_dropped", "Dropped background work", labels=["kind"]
        )
        drops.add_metric(["prediction"], s.predictions_dropped)
        drops.add_metric(["mirror"], s.mirrors_dropped)
        published = CounterMetricFamily(
            "modelops_gateway_predictions_published", "PredictionLogged published"
        )
        published.add_metric([], s.predictions_published)
        yield from (requests, rejected, latency, agreement, drops, published)

"""JSON log lines and Prometheus metrics, kept off the hot path's critical costs."""

import logging
import sys
import time
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event and the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure_logging(level: str) -> None:
    """JSON lines on stderr for the server's own loggers and uvicorn's."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def log_fields(**fields: Any) -> dict[str, Any]:
    """`extra=` for a log call whose fields become JSON keys."""
    return {"fields": fields}


class _Histogram:
    """A latency histogram for one route: a bisect and two additions per observation."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.total += seconds


class ServerMetrics:
    """Request latency histograms and counters in plain Python numbers, exported by a collector.

    prometheus-client's own metrics take a lock per update; the event loop is single-threaded,
    so plain numbers are exact here and cost a fraction of that on the hot path.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency: dict[str, _Histogram] = {}
        self.model_latency = _Histogram()
        self.requests: dict[tuple[str, int], int] = {}
        self.in_flight = 0
        self.registry.register(self)

    def observe(self, route: str, status: int, seconds: float) -> None:
        hist = self.latency.get(route)
        if hist is None:
            hist = self.latency[route] = _Histogram()
        hist.observe(seconds)
        key = (route, status)
        self.requests[key] = self.requests.get(key, 0) + 1

    def model_observe(self, seconds: float) -> None:
        self.model_latency.observe(seconds)

    def collect(self) -> Iterator[Metric]:
        """Called by prometheus-client when /metrics is rendered."""
        latency = HistogramMetricFamily(
            "modelserver_request_duration_seconds",
            "Scoring request latency, body read to response sent",
            labels=["route"],
        )
        for route, hist in self.latency.items():
            latency.add_metric([route], _buckets(hist), hist.total)
        yield latency
        model = HistogramMetricFamily(
            "modelserver_model_duration_seconds", "Time inside the model (thread execution)"
        )
        model.add_metric([], _buckets(self.model_latency), self.model_latency.total)
        yield model
        requests = CounterMetricFamily(
            "modelserver_requests",
            "Scoring requests by route and status",
            labels=["route", "status"],
        )
        for (route, status), count in self.requests.items():
            requests.add_metric([route, str(status)], count)
        yield requests

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _buckets(hist: _Histogram) -> list[tuple[str, float]]:
    out, running = [], 0
    for bound, count in zip((*LATENCY_BUCKETS, float("inf")), hist.counts, strict=True):
        running += count
        out.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
    return out

"""Settings of the scoring gateway service (env MODELOPS_*)."""

from typing import ClassVar

from pydantic import Field

from modelops_servicekit.settings import ServiceSettings


class ScoringGatewaySettings(ServiceSettings):
    """The scoring gateway's settings: the shared sections, its limits and the deployer's URL."""

    service: ClassVar[str] = "scoring_gateway"
    default_port: ClassVar[int] = 8104

    deployer_url: str = "http://127.0.0.1:8103"
    """The deployer's HTTP API: routing snapshot on start, key hashes when they change."""
    max_body_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    """Scoring request bodies larger than this answer 413."""
    queue_factor: float = Field(default=1.0, ge=0)
    """Requests that may wait per deployment, as a multiple of its concurrency x replicas."""
    resync_interval_s: float = Field(default=30.0, gt=0)
    """How often the routing table is rebuilt from the deployer's API (events in between)."""
    key_refresh_min_interval_s: float = Field(default=1.0, ge=0)
    """An unknown key refetches an endpoint's key hashes at most this often."""
    prediction_buffer: int = Field(default=10_000, gt=0)
    """Sampled predictions held for publishing; beyond it they are dropped (and counted)."""
    prediction_batch: int = Field(default=2048, gt=0)
    """Predictions taken per publishing round (one message per deployment, split at 512 KiB):
    a publish with its ack costs about as much for 100 bytes as for 100 KB."""
    prediction_flush_s: float = Field(default=0.2, gt=0)
    """Longest time a sampled prediction waits before its batch is published."""
    max_mirror_in_flight: int = Field(default=64, ge=0)
    """Mirrored requests in flight at once; more are dropped (and counted)."""
    mirror_rel_tol: float = Field(default=1e-3, ge=0)
    """A mirrored prediction agrees with the live one when its numbers are this close."""

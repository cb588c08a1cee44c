"""Settings of the data collector service (env MODELOPS_*)."""

from typing import ClassVar

from pydantic import Field

from modelops_servicekit.settings import ServiceSettings


class DataCollectorSettings(ServiceSettings):
    """The data collector's settings: the shared sections, its database, bucket and port."""

    service: ClassVar[str] = "data_collector"
    default_port: ClassVar[int] = 8105

    fetch_batch: int = Field(default=1000, ge=1, le=10_000)
    """Messages pulled from the predictions stream per fetch (at most)."""
    fetch_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    """... and about this many bytes per fetch (batched messages are large)."""
    flush_rows: int = Field(default=20_000, ge=1)
    """A partition is written to Parquet once it buffers this many rows."""
    flush_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    """... or this many bytes of raw event payload."""
    flush_interval_s: float = Field(default=30.0, gt=0)
    """... or once its oldest buffered row is this old (seconds)."""
    max_ack_pending: int = Field(default=200_000, ge=1000)
    """Unacknowledged (buffered, not yet stored) messages JetStream lets the consumer hold."""
    ack_wait_s: float = Field(default=300.0, gt=0)
    """Seconds before JetStream redelivers a buffered, unstored message (> flush_interval_s)."""
    window_grace_s: float = Field(default=300.0, ge=0)
    """An hour window closes this many seconds after its end (late events still land in it)."""
    close_tick_s: float = Field(default=10.0, gt=0)
    """How often windows due to close are looked for."""
    feedback_max_rows: int = Field(default=100_000, ge=1)
    """Most labels accepted by one POST /v1/feedback."""
    page_size: int = Field(default=1000, ge=1, le=100_000)
    """Rows per page of GET /v1/collected?format=json."""

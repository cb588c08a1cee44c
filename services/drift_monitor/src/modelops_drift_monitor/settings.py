"""Settings of the drift monitor service (env MODELOPS_*)."""

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from modelops_servicekit.settings import ServiceSettings


class DriftMonitorSettings(ServiceSettings):
    """The drift monitor's settings: the shared sections, its database, bucket and port."""

    service: ClassVar[str] = "drift_monitor"
    default_port: ClassVar[int] = 8106

    registry_url: str = "http://127.0.0.1:8101"
    """Base URL of the registry's HTTP API (baseline dataset versions)."""
    collector_url: str = "http://127.0.0.1:8105"
    """Base URL of the data collector's HTTP API (collected windows)."""
    cache_dir: Path = Path(".state/drift_monitor/cache")
    """Local cache of baseline statistics files."""
    evidently_sample_rows: int = Field(default=2000, ge=0)
    """Rows per side sampled for Evidently's HTML report of a run (0: no Evidently report)."""
    workers: int = Field(default=2, ge=1)
    """Threads that test features in parallel."""
    schedule_tick_s: float = Field(default=30.0, gt=0)
    """How often scheduled monitors are checked for being due."""

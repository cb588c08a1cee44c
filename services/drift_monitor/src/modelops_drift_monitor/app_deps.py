"""The drift monitor's adapters, built once in the composition root."""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from modelops_drift_monitor.ports import DatasetSource, Monitors, Runs, WindowSource
from modelops_servicekit.bus import EventPublisher
from modelops_servicekit.inbox import Inbox
from modelops_servicekit.objects import ObjectStore


@dataclass
class Deps:
    """Everything handlers need, passed in (never imported)."""

    inbox: Inbox
    events: EventPublisher
    monitors: Monitors
    runs: Runs
    objects: ObjectStore
    datasets: DatasetSource
    windows: WindowSource
    cache_dir: Path
    evidently_sample_rows: int = 2000
    workers: int = 2
    kick: Callable[[], None] = field(default=lambda: None)

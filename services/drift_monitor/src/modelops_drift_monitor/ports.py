"""What the drift monitor's use cases need from the outside world (implemented in adapters)."""

from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

Document = dict[str, Any]


class Monitors(Protocol):
    """The `monitors` collection."""

    async def insert(self, doc: Document) -> None: ...
    async def get(self, monitor_id: str) -> Document: ...
    async def list(self, endpoint_name: str | None = None) -> list[Document]: ...
    async def set_last_run(self, monitor_id: str, at: datetime) -> None: ...
    async def claim_run(self, monitor_id: str, previous: datetime | None, at: datetime) -> bool: ...
    async def set_baseline(self, monitor_id: str, previous: int, fields: Document) -> bool: ...


class Runs(Protocol):
    """The `runs` collection: one document per run, carrying its events (outbox)."""

    async def insert(self, doc: Document) -> None: ...
    async def get(self, monitor_id: str, run_id: str) -> Document: ...
    async def list(self, monitor_id: str, limit: int) -> list[Document]: ...


class DatasetSource(Protocol):
    """The registry's HTTP API: a dataset version's data files."""

    async def fetch(self, name: str, version: str, folder: Path) -> list[Path]: ...


class WindowSource(Protocol):
    """The data collector's HTTP API: a window of collected predictions as Parquet."""

    async def fetch(
        self, endpoint: str, model_version: int | None, start: datetime, end: datetime, path: Path
    ) -> Path | None: ...

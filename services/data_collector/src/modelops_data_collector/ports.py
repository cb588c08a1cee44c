"""What the use cases need from storage (implemented in repository.py)."""

from datetime import datetime
from typing import Any, Protocol

from modelops_contracts.events import Event

Document = dict[str, Any]


class Windows(Protocol):
    """Hour windows of collected data: open while rows arrive, closed once announced."""

    async def touch(self, doc: Document, rows: int) -> bool:
        """Record rows written to a window (created open); False if it was already closed."""
        ...

    async def due(self, before: datetime) -> list[Document]: ...

    async def close(self, window_id: str, row_count: int, data_uri: str, event: Event) -> bool:
        """Close an open window and announce it in the same write; False if already closed."""
        ...


class Feedback(Protocol):
    """Ground-truth labels by request id."""

    async def upsert(self, labels: list[Document], endpoint: str | None) -> dict[str, int]: ...


class Objects(Protocol):
    """The collector's bucket."""

    bucket: str

    async def put_bytes(self, key: str, data: bytes) -> None: ...
    async def get_bytes(self, key: str) -> bytes: ...
    async def list(self, prefix: str) -> list[str]: ...

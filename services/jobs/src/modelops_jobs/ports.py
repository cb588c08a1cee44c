"""What the use cases need from storage, as Protocols (Mongo implements them; fakes too)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from modelops_contracts.events import Event
from modelops_contracts.types import RunState
from modelops_servicekit.objects import ObjectStore

Document = dict[str, Any]


class Jobs(Protocol):
    """Job definitions, one per name."""

    async def insert(self, doc: Document) -> None:
        """Raises Conflict if the name is taken."""

    async def get(self, name: str) -> Document | None: ...
    async def all(self) -> list[Document]: ...
    async def triggered_by(self, event_type: str) -> list[Document]: ...
    async def scheduled(self) -> list[Document]: ...
    async def note(self, name: str, decision: Document) -> None:
        """Record the last trigger decision."""

    async def mark(self, name: str, fields: Document) -> None:
        """Set fields of the job (when it was last triggered or scheduled)."""


class Claims(Protocol):
    """Exclusive claims by key: the first to take a key holds it until it drops it."""

    async def take(self, key: str, doc: Document) -> bool:
        """False if the key is already held."""

    async def get(self, key: str) -> Document | None: ...
    async def drop(self, key: str, run_id: str) -> None:
        """Release the key if `run_id` holds it."""


class Runs(Protocol):
    """Runs; every state change carries the events announcing it in the same write."""

    async def insert(self, doc: Document) -> None: ...
    async def get(self, run_id: str) -> Document | None: ...
    async def recent(self, job_name: str | None, limit: int) -> list[Document]: ...
    async def transition(
        self,
        run_id: str,
        allowed_from: Sequence[RunState],
        target: RunState,
        fields: Document,
        events: Sequence[Event],
    ) -> bool:
        """Move the run to `target` if it is in one of `allowed_from`; False if it was not."""

    async def active_of(self, job_name: str) -> str | None: ...
    async def heartbeat(self, run_ids: Sequence[str], at: datetime) -> None: ...
    async def stale(self, before: datetime) -> list[Document]:
        """Queued or running runs whose holder has not beaten since `before`."""


Artifacts = ObjectStore
"""The jobs bucket: code snapshots, logs and run outputs."""

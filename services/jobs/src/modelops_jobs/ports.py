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

    async def heartbeat(self, run_ids: Sequence[str], at: datetime) -> None: ...
    async def stale(self, before: datetime) -> list[Document]:
        """Queued or running runs whose holder has not beaten since `before`."""


Artifacts = ObjectStore
"""The jobs bucket: code snapshots, logs and run outputs."""

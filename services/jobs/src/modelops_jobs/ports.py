"""What the use cases need from storage, as Protocols (Mongo implements them; fakes too)."""

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from modelops_contracts.events import Event
from modelops_contracts.types import RunState
from modelops_jobs.promotion import PromotionState
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


class Policies(Protocol):
    """Promotion policies, one per model."""

    async def put(self, doc: Document) -> None: ...
    async def get(self, model_name: str) -> Document | None: ...
    async def all(self) -> list[Document]: ...
    async def delete(self, model_name: str) -> bool: ...


class Promotions(Protocol):
    """Promotion decisions, one per model version; a state change carries its events."""

    async def insert(self, doc: Document) -> bool:
        """False if the version already has a decision."""

    async def get(self, promotion_id: str) -> Document | None: ...
    async def in_state(self, state: PromotionState) -> list[Document]: ...
    async def recent(self, model_name: str | None, limit: int) -> list[Document]: ...
    async def transition(
        self,
        promotion_id: str,
        allowed_from: Sequence[PromotionState],
        target: PromotionState,
        fields: Document,
        events: Sequence[Event] = (),
    ) -> bool: ...


class Models(Protocol):
    """Model versions and aliases (the registry)."""

    async def alias(self, name: str, alias: str) -> int | None: ...
    async def set_alias(self, name: str, alias: str, version: int, actor: str) -> Document: ...
    async def fetch(self, name: str, version: int, folder: Path) -> Document: ...


class Shadows(Protocol):
    """Shadow deployments on an endpoint (the deployer)."""

    async def start(
        self, endpoint: str, model_name: str, version: int, percent: int
    ) -> Document: ...
    async def stop(self, endpoint: str, version: int) -> None: ...


class Datasets(Protocol):
    """Dataset versions (the registry)."""

    async def describe(self, name: str, version: str) -> Document: ...
    async def fetch(self, name: str, version: str, folder: Path) -> list[Path]: ...


class Windows(Protocol):
    """Collected production data (the data collector)."""

    async def fetch(
        self, endpoint: str, model_version: int | None, start: datetime, end: datetime, path: Path
    ) -> Path | None: ...


class InputSources(Protocol):
    """Where a run's declared inputs come from (the registry, the data collector)."""

    async def materialize(self, spec: Document, folder: Path) -> Document:
        """Fetch the input into `folder`; a record of what was fetched, with file digests."""


Artifacts = ObjectStore
"""The jobs bucket: code snapshots, logs and run outputs."""

"""What the use cases need from storage, as Protocols (Mongo implements them; fakes too)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from modelops_contracts.api.registry import FileEntry
from modelops_contracts.events import Event
from modelops_registry.inspection import Detected
from modelops_servicekit.objects import ObjectStore
from modelops_servicekit.s3direct import Part

Document = dict[str, Any]


@dataclass(frozen=True)
class VersionQuery:
    """A search over versions: every given criterion must hold; newest first."""

    name: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    framework: str | None = None
    only: Sequence[tuple[str, int]] | None = None
    """Restrict to these (name, version) pairs, e.g. the versions an alias points at."""
    include_archived: bool = False
    page: int = 1
    limit: int = 20


class Versions(Protocol):
    """Versions of one kind (models or datasets), numbered 1, 2, 3, ... per name."""

    async def max_version(self, name: str) -> int: ...
    async def insert(self, doc: Document, events: Sequence[Event]) -> None:
        """Raises VersionTaken or IdempotencyKeyTaken."""

    async def by_idempotency_key(self, name: str, key: str) -> Document | None: ...
    async def get(self, name: str, version: int) -> Document | None: ...
    async def latest(self, name: str) -> Document | None: ...
    async def search(self, query: VersionQuery) -> tuple[list[Document], int]: ...
    async def update(
        self,
        name: str,
        version: int,
        revision: int,
        changes: Document,
        events: Sequence[Event],
    ) -> None:
        """Apply `$set`/`$unset` style changes if unchanged since `revision`, else StaleWrite."""


class Aliases(Protocol):
    """Movable names per model, each with its append-only history."""

    async def get(self, name: str, alias: str) -> Document | None: ...
    async def of_model(self, name: str) -> list[Document]: ...
    async def named(self, alias: str, name: str | None = None) -> list[Document]: ...
    async def move(
        self,
        name: str,
        alias: str,
        version: int,
        previous: int | None,
        entry: Document,
        events: Sequence[Event],
    ) -> None:
        """Point the alias at `version` if it still points at `previous`, else StaleWrite."""


class Deployments(Protocol):
    """Which deployment holds which model version, from the deployer's events."""

    async def apply(self, key: str, fields: Document, generation: int, at: datetime) -> bool: ...
    async def holding(self, name: str, version: int) -> list[Document]: ...


class AuditLog(Protocol):
    """Append-only: who did what, when, from which event."""

    async def record(self, entry: Document) -> None: ...
    async def of_model(self, name: str, page: int, limit: int) -> tuple[list[Document], int]: ...


class ArtifactStore(ObjectStore, Protocol):
    """The registry's bucket: content-addressed blobs (and run outputs to copy from)."""

    async def list(self, prefix: str) -> list[str]: ...
    async def ping(self) -> bool: ...


class Blobs(Protocol):
    """Files uploaded in parts, found by their digests: `{_id, key, size, created_at}`."""

    async def get(self, blob_id: str) -> Document | None: ...
    async def add(self, doc: Document) -> Document:
        """Insert, or return the one stored first under the same id."""

    async def holds(self, key: str) -> bool:
        """Does any entry keep its bytes at this object key?"""


class StoreLinks(Protocol):
    """Signs time-limited links that move a blob straight to or from the store."""

    def download(self, key: str, filename: str, expires: timedelta) -> str: ...
    def upload(self, key: str, expires: timedelta) -> str: ...
    def upload_part(self, key: str, upload_id: str, number: int, expires: timedelta) -> str: ...


class PartUploads(Protocol):
    """Uploads in parts the store verifies part by part."""

    async def start(self, key: str) -> str: ...
    async def complete(self, key: str, upload_id: str, parts: Sequence[Part]) -> None:
        """Join the parts; Invalid if they differ from the digests and ETags named."""

    async def joined(self, key: str) -> tuple[int, str] | None:
        """Size and composite SHA-256 (hex) of a joined object; None if there is none."""


class ModelInspector(Protocol):
    """Detects framework, schema and opset from a version's files."""

    async def inspect(self, files: Sequence[FileEntry]) -> Detected: ...


class DatasetProfiler(Protocol):
    """Profiles a dataset version's files."""

    async def profile(self, files: Sequence[FileEntry], fmt: str) -> dict[str, Any]: ...

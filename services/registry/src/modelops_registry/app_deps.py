"""The registry's adapters, built once in the composition root and passed to the use cases."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from modelops_registry.ports import (
    Aliases,
    ArtifactStore,
    AuditLog,
    Blobs,
    DatasetProfiler,
    Deployments,
    ModelInspector,
    PartUploads,
    StoreLinks,
    Versions,
)
from modelops_registry.settings import RegistrySettings
from modelops_servicekit.inbox import Inbox


def _no_kick() -> None:
    return None


@dataclass
class Deps:
    """Everything handlers need, passed in (never imported)."""

    settings: RegistrySettings
    versions: Versions
    datasets: Versions
    aliases: Aliases
    deployments: Deployments
    audit: AuditLog
    store: ArtifactStore
    blobs: Blobs
    """Files uploaded in parts (their objects are not at `blob_key(sha256)`)."""
    inspector: ModelInspector
    profiler: DatasetProfiler
    inbox: Inbox
    links: StoreLinks | None = None
    """Signs direct upload/download links; None streams every byte through the registry."""
    parts: PartUploads | None = None
    """Starts and joins uploads in parts (with links only)."""
    buckets: Callable[[str], ArtifactStore] | None = None
    """Another bucket of the same store (run outputs the jobs service kept), or None."""
    kick: Callable[[], None] = _no_kick
    """Wakes the outbox relay after a write (publish now, not at the next sweep)."""
    numbering: dict[str, asyncio.Lock] = field(default_factory=dict)
    """One lock per name: this process numbers a name's versions one registration at a time
    (registrations in other processes still race, and retry, at the unique index)."""

    @property
    def bucket(self) -> str:
        return self.store.bucket

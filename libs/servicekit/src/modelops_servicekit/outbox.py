"""Transactional outbox without transactions: events live inside the document they announce.

A state change and its events are one single-document write (`with_outbox` on insert,
`push_outbox` on update). The relay publishes pending events with `Nats-Msg-Id` = event id,
then pulls them from the document. A crash after publishing and before pulling republishes the
same ids, which JetStream drops inside its duplicate window and consumers ignore by event id.
"""

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from typing import Any

import structlog
from pymongo.asynchronous.collection import AsyncCollection

from modelops_contracts.events import CATALOG, Event
from modelops_servicekit.bus import EventPublisher
from modelops_servicekit.mongo import Document

OUTBOX_FIELD = "_outbox"
log = structlog.get_logger(__name__)


def outbox_entries(events: Iterable[Event]) -> list[Document]:
    """Events as stored in a document's outbox: subject and JSON payload."""
    return [
        {"event_id": str(e.event_id), "subject": e.subject, "payload": e.model_dump(mode="json")}
        for e in events
    ]


def with_outbox(document: Document, events: Iterable[Event]) -> Document:
    """A new document that carries the events announcing its creation."""
    return {**document, OUTBOX_FIELD: outbox_entries(events)}


def push_outbox(update: dict[str, Any], events: Iterable[Event]) -> dict[str, Any]:
    """An update that also appends events to the document's outbox, in the same write."""
    entries = outbox_entries(events)
    if not entries:
        return update
    return {**update, "$push": {**update.get("$push", {}), OUTBOX_FIELD: {"$each": entries}}}


def decode_entry(entry: Document) -> Event:
    """Rebuild the event from an outbox entry."""
    return CATALOG[entry["subject"]].model_validate(entry["payload"])


class OutboxRelay:
    """Publishes pending outbox events of some collections until JetStream acknowledges."""

    def __init__(
        self,
        publisher: EventPublisher,
        collections: Sequence[AsyncCollection[Document]],
        *,
        interval_s: float = 1.0,
        batch: int = 100,
    ) -> None:
        self._publisher = publisher
        self._collections = list(collections)
        self._interval = interval_s
        self._batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def ensure_indexes(self) -> None:
        for coll in self._collections:
            await coll.create_index(f"{OUTBOX_FIELD}.event_id", sparse=True)

    def kick(self) -> None:
        """Publish now rather than at the next sweep (called after a write)."""
        self._wake.set()

    async def drain(self) -> int:
        """One pass over every collection; returns how many events were published."""
        published = 0
        for coll in self._collections:
            published += await self._drain_collection(coll)
        return published

    async def _drain_collection(self, coll: AsyncCollection[Document]) -> int:
        published = 0
        query = {f"{OUTBOX_FIELD}.event_id": {"$exists": True}}
        async for doc in coll.find(query, {OUTBOX_FIELD: 1}).limit(self._batch):
            for entry in doc.get(OUTBOX_FIELD, []):
                await self._publisher.publish(decode_entry(entry))
                await coll.update_one(
                    {"_id": doc["_id"]},
                    {
                        "$pull": {OUTBOX_FIELD: entry}
                    },  # exact match: FerretDB lacks $pull by condition
                )
                published += 1
        return published

    async def run(self) -> None:
        """Sweep forever: on a kick, or every interval; transient failures are retried."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                while await self.drain():
                    pass
            except Exception as exc:  # NATS or Mongo down: keep the events, retry next sweep
                log.warning("outbox_relay_retry", error=repr(exc))

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

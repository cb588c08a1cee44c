"""Group commit of fan-outs: the concurrent consumer handlers share two MongoDB writes."""

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from modelops_notifier.ports import Doc
from modelops_notifier.repository import duplicate_indexes
from modelops_servicekit.mongo import Document


@dataclass
class _Pending:
    event_id: str
    subject: str
    fan: Doc | None
    done: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class FanoutWriter:
    """Writes fan-out documents, then inbox records, for every event handed in meanwhile.

    Order matters: the fan-out is stored before the event is marked processed, so a crash in
    between loses nothing (the fan-out is resumed after its lease). An event whose inbox record
    already existed was fanned out before (a redelivery): its re-created fan-out is removed.
    """

    def __init__(
        self, db: AsyncDatabase[Document], window_s: float = 0.002, max_batch: int = 256
    ) -> None:
        self._max = max_batch
        self._queue = db["pending_deliveries"]
        self._inbox = db["processed_events"]
        self._window_s = window_s
        self._batch: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None

    async def write(self, event_id: str, subject: str, fan: Doc | None) -> bool:
        """Store one event's fan-out; True when its deliveries should be attempted now."""
        pending = _Pending(event_id, subject, fan)
        self._batch.append(pending)
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_soon())
        return await pending.done

    async def _flush_soon(self) -> None:
        """One group commit at a time: events arriving meanwhile join the next one.

        Concurrent commits only contend for FerretDB's single SQLite writer; under load a
        serial committer makes batches grow instead of queues of tiny writes.
        """
        try:
            await asyncio.sleep(self._window_s)
            while self._batch:
                batch, self._batch = self._batch[: self._max], self._batch[self._max :]
                await self._commit(batch)
        finally:
            self._flusher = None

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            fresh = await self._store(batch)
        except Exception as exc:  # every waiting handler fails: its message is redelivered
            for p in batch:
                if not p.done.done():
                    p.done.set_exception(exc)
            return
        for p in batch:
            if not p.done.done():
                p.done.set_result(p.event_id in fresh)

    async def _store(self, batch: list[_Pending]) -> set[str]:
        fans = [p.fan for p in batch if p.fan is not None]
        inserted = {p.event_id for p in batch if p.fan is not None}
        if fans:
            try:
                await self._queue.insert_many(fans, ordered=False)
            except BulkWriteError as exc:
                for index in duplicate_indexes(exc):  # still in flight: its owner attempts it
                    inserted.discard(fans[index]["_id"].removeprefix("fan_"))
        at = datetime.now(UTC)
        records = [{"_id": p.event_id, "subject": p.subject, "applied_at": at} for p in batch]
        try:
            await self._inbox.insert_many(records, ordered=False)
        except BulkWriteError as exc:
            seen = {records[i]["_id"] for i in duplicate_indexes(exc)}
            again = [f"fan_{e}" for e in inserted & seen]
            if again:
                await self._queue.delete_many({"_id": {"$in": again}})
            inserted -= seen
        return inserted

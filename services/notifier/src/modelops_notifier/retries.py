"""Deliveries waiting in `pending_deliveries`: claimed when due, leases kept, finished in bulk."""

import asyncio
from collections.abc import Callable
from datetime import timedelta

import structlog

from modelops_notifier.domain import now
from modelops_notifier.lanes import Job, woken
from modelops_notifier.ports import Deliveries, Doc
from modelops_notifier.settings import DeliverySettings

log = structlog.get_logger(__name__)
FLUSH_MAX = 200  # finished deliveries per history write
CLAIM_MAX = 200  # deliveries leased per claim


class RetryQueue:
    """The stored side of delivery: due retries, replays and resumed deliveries."""

    def __init__(
        self,
        deliveries: Deliveries,
        settings: DeliverySettings,
        owner: str,
        submit: Callable[[Job], None],
        in_flight: Callable[[], int],
    ) -> None:
        self._deliveries, self._settings, self.owner = deliveries, settings, owner
        self._submit, self._in_flight = submit, in_flight
        self._finished: list[Doc] = []
        self._flush_lock = asyncio.Lock()
        self._wake = asyncio.Event()

    def kick(self) -> None:
        """Look for due deliveries now (a retry fell due, a subscription was resumed)."""
        self._wake.set()

    def due_in(self, delay_s: float) -> None:
        """This process's own retry falls due then: look without waiting for the poll."""
        asyncio.get_running_loop().call_later(delay_s, self._wake.set)

    async def keep_lease(self, doc: Doc) -> bool:
        """Renew a lease about to run out before an attempt; False when another owner has it."""
        at = now()
        margin = timedelta(seconds=self._settings.timeout_s + 5)
        if doc["lease_until"] - at >= margin:
            return True
        return await self._deliveries.renew(doc, at + timedelta(seconds=self._settings.lease_s))

    def finish(self, doc: Doc) -> None:
        """Record a finished delivery in the history and drop it from the queue (batched)."""
        self._finished.append(doc)

    async def reschedule(self, doc: Doc, fields: Doc, attempt: Doc | None, delay: float) -> None:
        if await self._deliveries.reschedule(doc, fields, attempt):
            self.due_in(delay)
        else:
            log.info("delivery_lease_lost", delivery_id=doc["_id"])

    async def flush(self) -> None:
        """Bounded writes, so the event commits interleave with them on FerretDB's one writer."""
        async with self._flush_lock:
            while self._finished:
                batch = self._finished[:FLUSH_MAX]
                await self._deliveries.record(batch)
                await self._deliveries.drop([d["_id"] for d in batch], self.owner)
                del self._finished[: len(batch)]  # only appended to meanwhile

    async def flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.flush_interval_s)
            try:
                await self.flush()
            except Exception as exc:  # Mongo unavailable: keep the batch, try again
                log.warning("delivery_flush_failed", error=repr(exc))
                await asyncio.sleep(1.0)

    async def poll_loop(self) -> None:
        while True:
            await woken(self._wake, self._settings.poll_interval_s)
            try:
                await self._claim_due()
            except Exception as exc:  # Mongo unavailable: the next poll tries again
                log.warning("delivery_poll_failed", error=repr(exc))

    async def _claim_due(self) -> None:
        while (room := self._settings.max_in_flight - self._in_flight()) > 0:
            docs = await self._deliveries.claim_due(
                self.owner, now(), self._settings.lease_s, min(room, CLAIM_MAX)
            )
            for doc in docs:
                self._submit(Job(doc, stored=True))
            if len(docs) < min(room, CLAIM_MAX):
                return

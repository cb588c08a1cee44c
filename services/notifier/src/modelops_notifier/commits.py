"""Group commit of fanned-out events: their outcomes and waiting deliveries, before the ack.

An event's deliveries are attempted from memory as soon as it arrives; its message is acked only
after this commit stored, in two inserts shared by every event committed together, (1) a
`pending_deliveries` document for each delivery that still waits (a retry, a held one, or one
still in flight on a slow target, leased to this process) and then (2) the event's history
record with the outcomes of the others. A crash before the commit leaves the message unacked:
JetStream redelivers it and the same webhook-ids are sent again (receivers de-duplicate).
"""

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import structlog

from modelops_notifier.delivery_store import EPOCH
from modelops_notifier.domain import Status, now
from modelops_notifier.lanes import Fanout, Job, woken
from modelops_notifier.ports import Deliveries
from modelops_notifier.settings import DeliverySettings
from modelops_servicekit.errors import Unavailable

log = structlog.get_logger(__name__)
MAX_BATCH = 256  # events per commit


class Committer:
    """Commits settled (or overdue) fan-outs, one commit at a time; batches grow with load."""

    def __init__(
        self,
        deliveries: Deliveries,
        settings: DeliverySettings,
        owner: str,
        slow: Callable[[Job, float], bool],
        due_in: Callable[[float], None],
    ) -> None:
        self._deliveries, self._settings, self._owner = deliveries, settings, owner
        self._slow, self._due_in = slow, due_in
        self._open: dict[int, Fanout] = {}
        self._ready: list[Fanout] = []
        self._committing: list[Fanout] = []
        self._closed: BaseException | None = None
        self._wake = asyncio.Event()

    def ensure_open(self) -> None:
        """Stopping: a (re)delivered event is refused; it waits for the next start."""
        if self._closed is not None:
            raise Unavailable(f"not accepting events: {self._closed}")

    def track(self, fan: Fanout) -> None:
        if fan.open == 0:
            self._ready.append(fan)
            self._wake.set()
        else:
            self._open[id(fan)] = fan

    def settled(self, fan: Fanout) -> None:
        """A member settled; the fan-out is committed once all have."""
        fan.open -= 1
        if fan.open == 0 and self._open.pop(id(fan), None) is not None:
            self._ready.append(fan)
            self._wake.set()

    async def run(self) -> None:
        while True:
            await woken(self._wake, self._settings.sweep_interval_s)
            self._sweep()
            while self._ready:
                self._committing = self._ready[:MAX_BATCH]
                self._ready = self._ready[MAX_BATCH:]
                try:
                    await self._commit(self._committing)
                except Exception as exc:  # a bug must not stop every later ack: nack these
                    log.exception("fanout_commit_crashed", error=repr(exc))
                    for fan in self._committing:
                        _fail(fan, exc)
                self._committing = []

    def fail_open(self, exc: BaseException) -> None:
        """Shutting down: uncommitted events are not acked (JetStream redelivers them)."""
        self._closed = exc
        for fan in [*self._open.values(), *self._ready, *self._committing]:
            _fail(fan, exc)
        self._open.clear()
        self._ready.clear()

    def _sweep(self) -> None:
        """Overdue fan-outs, and those waiting only on slow targets, are committed now."""
        at = time.monotonic()
        for key, fan in list(self._open.items()):
            overdue = at - fan.started > self._settings.hold_s
            if overdue or all(self._slow(j, at) for j in fan.jobs if not j.settled):
                del self._open[key]
                self._ready.append(fan)

    async def _commit(self, batch: list[Fanout]) -> None:
        for fan in batch:  # members settling from now on take the stored way
            fan.sealed = True
        waiting = [self._seal(job) for fan in batch for job in fan.jobs if _waits(job)]
        events = [(f.event_id, [j.doc for j in f.jobs if not _waits(j)]) for f in batch]
        try:
            inserted = {id(d) for d in await self._deliveries.enqueue([j.doc for j in waiting])}
            await self._deliveries.record_events(events)
        except Exception as exc:  # every event of the batch is redelivered and redone
            log.warning("fanout_commit_failed", events=len(batch), error=repr(exc))
            for job in waiting:
                job.orphan = True
            for fan in batch:
                _fail(fan, exc)
            return
        at = now()
        for job in waiting:
            job.stored, job.orphan = id(job.doc) in inserted, id(job.doc) not in inserted
            if job.settled and job.stored:
                self._due_in(max(0.0, (job.doc["next_attempt_at"] - at).total_seconds()))
        for fan in batch:
            if not fan.committed.done():
                fan.committed.set_result(None)

    def _seal(self, job: Job) -> Job:
        """Mark a waiting delivery for the queue: leased to us if its attempt is still ours."""
        if job.settled:
            job.doc.update(lease_until=EPOCH, lease_token=None, lease_owner=None)
        else:
            lease = timedelta(seconds=self._settings.lease_s)
            job.doc.update(lease_owner=self._owner, lease_token=uuid.uuid4().hex)
            job.doc["lease_until"] = now() + lease
        return job


def _waits(job: Job) -> bool:
    """Still in flight, or settled to try again later: it goes to the queue."""
    return not job.settled or job.doc["status"] == str(Status.PENDING)


def _fail(fan: Fanout, exc: BaseException) -> None:
    if not fan.committed.done():
        fan.committed.set_exception(exc)
        fan.committed.exception()  # retrieved: its handler may be gone already

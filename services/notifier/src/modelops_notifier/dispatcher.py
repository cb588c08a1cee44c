"""The delivery worker pool: an event's deliveries attempted from memory on per-target lanes.

New deliveries never wait for a write: they go to their target's lane at once, and the event is
committed (then acked) with their outcomes; only deliveries that must wait are stored in the
queue (commits.py), from which retries come back (retries.py).
"""

import asyncio
import contextlib

import structlog

from modelops_notifier.channels import AttemptResult, Channels
from modelops_notifier.commits import Committer
from modelops_notifier.delivery_store import EPOCH
from modelops_notifier.directory import Directory
from modelops_notifier.domain import Outcome, Status, due_at, now
from modelops_notifier.lanes import Fanout, Job, Lane
from modelops_notifier.outcomes import add_attempt, finish, judge, retry_fields
from modelops_notifier.ports import Deliveries, Doc, Subscriptions
from modelops_notifier.retries import RetryQueue
from modelops_notifier.settings import DeliverySettings
from modelops_servicekit.errors import Unavailable

log = structlog.get_logger(__name__)
STOP_GRACE_S = 1.0  # in-flight attempts may finish this long when stopping (leases cover them)


class Dispatcher:
    """Attempts deliveries, one lane per target, and settles each attempt's outcome."""

    def __init__(
        self,
        deliveries: Deliveries,
        subscriptions: Subscriptions,
        directory: Directory,
        channels: Channels,
        settings: DeliverySettings,
        owner: str,
    ) -> None:
        self._deliveries, self._subs, self._directory = deliveries, subscriptions, directory
        self._channels, self._settings, self.owner = channels, settings, owner
        self._lanes: dict[str, Lane] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self.in_flight = 0
        self.queue = RetryQueue(deliveries, settings, owner, self._submit, lambda: self.in_flight)
        self._commits = Committer(deliveries, settings, owner, self._slow, self.queue.due_in)

    # -- intake -------------------------------------------------------------------------------
    async def deliver(self, event_id: str, docs: list[Doc]) -> None:
        """Attempt an event's deliveries now; return once their outcomes (or waits) are stored."""
        self._commits.ensure_open()
        fan = Fanout(event_id, [Job(doc) for doc in docs])
        for job in fan.jobs:
            job.fan = fan
            target = self._directory.targets.get(job.doc["subscription_id"])
            if target is not None and target.paused:  # held until resumed: stored at commit
                job.doc.update(next_attempt_at=due_at(now(), self._settings.paused_recheck_s))
                job.doc["held"] = job.settled = True
            else:
                fan.open += 1
                self._submit(job)
        self._commits.track(fan)
        await asyncio.shield(fan.committed)

    async def attempt_now(self, doc: Doc) -> Doc:
        """One attempt right now, awaited and recorded (the `webhook test` ping)."""
        self.in_flight += 1
        await self._attempt(Job(doc))
        return doc

    def kick(self) -> None:
        self.queue.kick()

    def _submit(self, job: Job) -> None:
        self.in_flight += 1
        key = job.doc["subscription_id"]
        lane = self._lanes.get(key)
        if lane is None:
            lane = Lane(self._settings.per_target_concurrency, self._attempt, self._tasks)
            self._lanes[key] = lane
        lane.push(job)

    def _slow(self, job: Job, at: float) -> bool:
        lane = self._lanes.get(job.doc["subscription_id"])
        return lane is not None and lane.slow(at, self._settings.slow_after_s)

    # -- one attempt --------------------------------------------------------------------------
    async def _attempt(self, job: Job) -> None:
        try:
            if job.stored and not await self.queue.keep_lease(job.doc):
                log.info("delivery_lease_lost", delivery_id=job.doc["_id"])
                return
            await self._attempt_once(job)
        except Exception as exc:  # Mongo down mid-attempt: the lease expires, it is retried
            log.exception("delivery_attempt_crashed", delivery_id=job.doc["_id"], error=repr(exc))
        finally:
            self.in_flight -= 1

    async def _attempt_once(self, job: Job) -> None:
        doc = job.doc
        if doc["kind"] == "webhook":
            target = self._directory.targets.get(doc["subscription_id"])
            if target is None or target.disabled:
                reason = "subscription deleted" if target is None else "subscription disabled"
                await self._settle(job, Status.DEAD_LETTER, reason)
                return
            if target.paused:
                await self._hold(job, target.id)
                return
            result = await self._channels.webhook(doc, target)
        elif doc["kind"] == "slack":
            result = await self._channels.slack(doc)
        else:
            result = await self._channels.email(doc)
        await self._record(job, result)

    async def _record(self, job: Job, result: AttemptResult) -> None:
        at = now()
        verdict = judge(job.doc, result, at, self._settings)
        emit = log.debug if verdict.outcome is Outcome.DELIVERED else log.info  # keep quiet
        emit(
            "delivery_attempted",
            delivery_id=job.doc["_id"],
            outcome=str(verdict.outcome),
            status_code=result.status_code,
            latency_ms=round(result.latency_ms, 2),
        )
        if verdict.gone:
            await self._disable(job.doc["subscription_id"])
        if verdict.status is None:
            assert verdict.delay is not None
            fields = retry_fields(verdict.attempt, at, verdict.delay)
            await self._wait(job, fields, verdict.attempt, verdict.delay)
            return
        add_attempt(job.doc, verdict.attempt)
        await self._settle(job, verdict.status, result.error)

    # -- outcomes -----------------------------------------------------------------------------
    async def _in_memory(self, job: Job) -> bool:
        """True while the job's event is uncommitted: its outcome goes into the event record."""
        fan = job.fan
        if fan is None:
            return False
        if not fan.sealed:
            return True
        with contextlib.suppress(Exception):  # a failed commit orphans the job (it is redone)
            await asyncio.shield(fan.committed)
        job.fan = None
        return False

    async def _settle(self, job: Job, status: Status, error: str | None) -> None:
        """A final outcome: into the event's record, or the history (and out of the queue)."""
        finish(job.doc, status, now(), error)
        if await self._in_memory(job):
            self._settled(job)
        elif job.stored and not job.orphan:
            self.queue.finish(job.doc)
        elif not job.orphan:
            await self._deliveries.record([job.doc])  # the ping: recorded before it answers

    async def _wait(self, job: Job, fields: Doc, attempt: Doc | None, delay: float) -> None:
        """Try again later: the event's commit stores it, or the queue document is updated."""
        if await self._in_memory(job):
            if attempt is not None:
                add_attempt(job.doc, attempt)
            job.doc.update(fields)
            self._settled(job)
        elif job.stored and not job.orphan:
            await self.queue.reschedule(job.doc, fields, attempt, delay)
        elif not job.orphan:
            if attempt is not None:
                add_attempt(job.doc, attempt)
            job.doc.update(fields, lease_until=EPOCH, lease_token=None)
            await self._deliveries.enqueue([job.doc])
            self.queue.due_in(delay)

    def _settled(self, job: Job) -> None:
        job.settled = True
        assert job.fan is not None
        self._commits.settled(job.fan)

    async def _hold(self, job: Job, subscription_id: str) -> None:
        """A paused subscription keeps its deliveries until resumed."""
        recheck = self._settings.paused_recheck_s
        fields = {"next_attempt_at": due_at(now(), recheck), "held": True}
        await self._wait(job, fields, None, recheck)
        if job.stored and not self._directory.targets[subscription_id].paused:  # resumed
            await self._deliveries.release_paused(subscription_id, now())
            self.kick()

    async def _disable(self, subscription_id: str) -> None:
        reason = "the target answered 410 Gone"
        await self._subs.update(
            subscription_id, {"disabled": True, "disabled_reason": reason, "updated_at": now()}
        )
        log.warning("subscription_disabled", subscription_id=subscription_id, reason=reason)
        await self._directory.reload()

    # -- background loops ---------------------------------------------------------------------
    async def start(self) -> None:
        self._loops = [
            asyncio.create_task(self.queue.poll_loop()),
            asyncio.create_task(self.queue.flush_loop()),
            asyncio.create_task(self._commits.run()),
        ]

    async def stop(self) -> None:
        for task in self._loops:
            task.cancel()
        self._commits.fail_open(Unavailable("the notifier is stopping"))
        pending = list(self._tasks)
        if pending:  # in-flight attempts get a short grace; their leases cover the rest
            await asyncio.wait(pending, timeout=STOP_GRACE_S)
        for task in self._loops + list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self.queue.flush()
        await self._channels.close()

"""The delivery worker pool: per-target lanes, leases, retries and batched completion."""

import asyncio
import contextlib
import contextvars
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog

from modelops_notifier.channels import AttemptResult, Channels
from modelops_notifier.directory import Directory
from modelops_notifier.domain import (
    Outcome,
    Status,
    classify,
    due_at,
    fan_members,
    next_delay,
    now,
    slim_members,
)
from modelops_notifier.ports import Deliveries, Doc, Subscriptions
from modelops_notifier.settings import DeliverySettings

log = structlog.get_logger(__name__)
FLUSH_MAX = 200  # finished deliveries per history write


class Lane:
    """One target's deliveries: at most `limit` in flight, never waiting on other targets."""

    def __init__(
        self, limit: int, run: Callable[[Doc], Awaitable[None]], tasks: set[asyncio.Task[None]]
    ) -> None:
        self._queue: deque[Doc] = deque()
        self._limit, self._run, self._tasks = limit, run, tasks
        self.running = 0

    def push(self, doc: Doc) -> None:
        self._queue.append(doc)
        while self.running < self._limit and self.running < len(self._queue):
            self.running += 1
            task = asyncio.create_task(self._drain(), context=contextvars.Context())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _drain(self) -> None:
        try:
            while self._queue:
                await self._run(self._queue.popleft())
        finally:
            self.running -= 1


def _attempt_record(result: AttemptResult, at: datetime, outcome: Outcome) -> Doc:
    return {
        "at": at,
        "status_code": result.status_code,
        "latency_ms": round(result.latency_ms, 2),
        "response": result.response,
        "error": result.error,
        "outcome": str(outcome),
    }


class Dispatcher:
    """Claims due deliveries, attempts them and records every attempt in MongoDB."""

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
        self._finished: list[Doc] = []
        self._fanouts: dict[str, int] = {}  # fan-out document -> members not yet resolved
        self._resolved_fanouts: list[str] = []
        self._wake = asyncio.Event()
        self._flushed = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._loops: list[asyncio.Task[None]] = []
        self.in_flight = 0

    # -- intake -------------------------------------------------------------------------------
    def lease(self, doc: Doc, at: datetime) -> Doc:
        """Mark a new delivery as claimed by this process (it is attempted at once)."""
        doc.update(lease_owner=self.owner, lease_token=doc["_id"] + ":0")
        doc["lease_until"] = at + timedelta(seconds=self._settings.lease_s)
        return doc

    def submit(self, doc: Doc) -> None:
        """Attempt a delivery this process holds the lease of."""
        self.in_flight += 1
        key = doc["subscription_id"]
        lane = self._lanes.get(key)
        if lane is None:
            lane = Lane(self._settings.per_target_concurrency, self._attempt, self._tasks)
            self._lanes[key] = lane
        lane.push(doc)

    def fanout(self, event_id: str, docs: list[Doc], at: datetime) -> Doc:
        """One queue document holding every delivery of an event, leased to this process.

        FerretDB scans a collection for anything but `_id`: one document per event (instead of
        one per delivery) keeps the queue, its scans and its deletes N times smaller.
        """
        body, members = slim_members(docs)
        fan = {"_id": f"fan_{event_id}", "fanout": True, "body": body, "deliveries": members}
        fan.update(next_attempt_at=at, created_at=at)
        return self.lease(fan, at)

    def submit_fanout(self, fan: Doc, members: list[Doc]) -> None:
        """Attempt the members of a fan-out document; it is dropped once all are resolved."""
        if not members:
            self._resolved_fanouts.append(fan["_id"])
            return
        self._fanouts[fan["_id"]] = len(members)
        for doc in members:
            doc.update(fanout_id=fan["_id"], lease_token=fan["lease_token"])
            doc["lease_until"] = fan["lease_until"]
            self.submit(doc)

    def _resolved(self, doc: Doc) -> None:
        fan_id = doc.get("fanout_id")
        if fan_id is None or fan_id not in self._fanouts:
            return
        self._fanouts[fan_id] -= 1
        if self._fanouts[fan_id] == 0:
            del self._fanouts[fan_id]
            self._resolved_fanouts.append(fan_id)

    def kick(self) -> None:
        """Look for due deliveries now (a retry fell due, a subscription was resumed)."""
        self._wake.set()

    async def attempt_inline(self, doc: Doc) -> Doc:
        """One attempt right now, awaited (the `webhook test` ping); returns the delivery."""
        self.in_flight += 1
        await self._attempt(doc)
        await self.flush()
        return await self._deliveries.get(doc["_id"]) or doc

    # -- one attempt --------------------------------------------------------------------------
    async def _attempt(self, doc: Doc) -> None:
        try:
            await self._attempt_once(doc)
        except Exception as exc:  # Mongo down mid-attempt: the lease expires, it is retried
            log.exception("delivery_attempt_crashed", delivery_id=doc["_id"], error=repr(exc))
        finally:
            self.in_flight -= 1

    async def _attempt_once(self, doc: Doc) -> None:
        at = now()
        margin = timedelta(seconds=self._settings.timeout_s + 5)
        renew_to = at + timedelta(seconds=self._settings.lease_s)
        if doc["lease_until"] - at < margin and not await self._renew(doc, renew_to):
            log.info("delivery_lease_lost", delivery_id=doc["_id"])
            return
        if doc["kind"] == "webhook":
            target = self._directory.targets.get(doc["subscription_id"])
            if target is None or target.disabled:
                reason = "subscription deleted" if target is None else "subscription disabled"
                self._finish(doc, Status.DEAD_LETTER, at, reason)
                return
            if target.paused:
                hold = due_at(at, self._settings.paused_recheck_s)
                await self._release(doc, {"next_attempt_at": hold, "held": True}, None)
                if not self._directory.targets[target.id].paused:  # resumed meanwhile
                    await self._deliveries.release_paused(target.id, now())
                    self.kick()
                return
            result = await self._channels.webhook(doc, target)
        elif doc["kind"] == "slack":
            result = await self._channels.slack(doc)
        else:
            result = await self._channels.email(doc)
        await self._record(doc, result, now())

    async def _renew(self, doc: Doc, until: datetime) -> bool:
        """Extend the lease (of the fan-out document, for one of its members)."""
        holder = {"_id": doc.get("fanout_id") or doc["_id"], "lease_token": doc["lease_token"]}
        if not await self._deliveries.renew(holder, until):
            return False
        doc["lease_until"] = until
        return True

    async def _record(self, doc: Doc, result: AttemptResult, at: datetime) -> None:
        outcome = Outcome.FAILED if result.refused else classify(result.status_code)
        attempt = _attempt_record(result, at, outcome)
        emit = log.debug if outcome is Outcome.DELIVERED else log.info  # 2 000/s: keep quiet
        emit(
            "delivery_attempted",
            delivery_id=doc["_id"],
            outcome=str(outcome),
            status_code=result.status_code,
            latency_ms=round(result.latency_ms, 2),
        )
        if outcome is Outcome.RETRY:
            made = doc.get("series_attempts", 0) + 1
            delay = (
                None
                if made >= doc.get("max_attempts", 1 << 30)
                else next_delay(
                    made,
                    self._settings.retry_schedule_s,
                    jitter=self._settings.jitter,
                    retry_after=result.retry_after,
                    max_retry_after=self._settings.max_retry_after_s,
                )
            )
            if delay is not None:
                await self._retry_later(doc, attempt, delay, at)
                return
        if outcome is Outcome.GONE:
            await self._disable(doc["subscription_id"], at)
        self._add_attempt(doc, attempt)
        status = Status.DELIVERED if outcome is Outcome.DELIVERED else Status.DEAD_LETTER
        self._finish(doc, status, at, result.error)

    async def _retry_later(self, doc: Doc, attempt: Doc, delay: float, at: datetime) -> None:
        fields = {
            "next_attempt_at": due_at(at, delay),
            "last_status_code": attempt["status_code"],
            "last_error": attempt["error"],
        }
        if await self._release(doc, fields, attempt):
            asyncio.get_running_loop().call_later(delay, self._wake.set)
        else:
            log.info("delivery_lease_lost", delivery_id=doc["_id"])

    async def _release(self, doc: Doc, fields: Doc, attempt: Doc | None) -> bool:
        """Give a delivery back to the queue until `next_attempt_at` (with its attempt)."""
        if doc.get("fanout_id") is None:
            return await self._deliveries.reschedule(doc, fields, attempt)
        split = await self._deliveries.split(doc, fields, attempt)
        self._resolved(doc)
        return split

    async def _disable(self, subscription_id: str, at: datetime) -> None:
        reason = "the target answered 410 Gone"
        await self._subs.update(
            subscription_id, {"disabled": True, "disabled_reason": reason, "updated_at": at}
        )
        log.warning("subscription_disabled", subscription_id=subscription_id, reason=reason)
        await self._directory.reload()

    @staticmethod
    def _add_attempt(doc: Doc, attempt: Doc) -> None:
        doc.setdefault("attempts", []).append(attempt)
        doc["attempt_count"] = doc.get("attempt_count", 0) + 1
        doc["series_attempts"] = doc.get("series_attempts", 0) + 1
        doc["last_status_code"] = attempt["status_code"]
        doc["last_error"] = attempt["error"]

    def _finish(self, doc: Doc, status: Status, at: datetime, error: str | None) -> None:
        doc.update(status=str(status), completed_at=at, lease_token=None, lease_owner=None)
        if status is Status.DEAD_LETTER:
            doc["dead_letter_reason"] = error
        self._finished.append(doc)
        self._resolved(doc)

    # -- background loops ---------------------------------------------------------------------
    async def start(self) -> None:
        self._loops = [
            asyncio.create_task(self._poll_loop()),
            asyncio.create_task(self._flush_loop()),
        ]

    async def stop(self) -> None:
        for task in self._loops:
            task.cancel()
        pending = list(self._tasks)
        if pending:  # in-flight attempts get a short grace; their leases cover the rest
            await asyncio.wait(pending, timeout=5)
        for task in self._loops + list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self.flush()
        await self._channels.close()

    async def flush(self) -> None:
        """Write finished deliveries to the history and drop them from the queue.

        Bounded writes let intake's group commits interleave on FerretDB's one writer. A
        fan-out is dropped only after every delivery finished before it was resolved is written.
        """
        async with self._flush_lock:
            while self._finished or self._resolved_fanouts:
                cut = len(self._finished)
                drop, self._resolved_fanouts = self._resolved_fanouts, []
                try:
                    while cut > 0:
                        n = min(cut, FLUSH_MAX)
                        await self._deliveries.finish(self._finished[:n], [])
                        del self._finished[:n]  # only appended to meanwhile
                        cut -= n
                    if drop:
                        await self._deliveries.finish([], drop)
                except Exception:
                    self._resolved_fanouts = drop + self._resolved_fanouts
                    raise

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.flush_interval_s)
            try:
                await self.flush()
            except Exception as exc:  # Mongo unavailable: keep the batch, try again
                log.warning("delivery_flush_failed", error=repr(exc))
                await asyncio.sleep(1.0)

    async def _poll_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._settings.poll_interval_s):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self._claim_due()
            except Exception as exc:  # Mongo unavailable: the next poll tries again
                log.warning("delivery_poll_failed", error=repr(exc))

    async def _claim_due(self) -> None:
        while self.in_flight < self._settings.max_in_flight:
            doc = await self._deliveries.claim_due(self.owner, now(), self._settings.lease_s)
            if doc is None:
                return
            if doc.get("fanout"):
                members = [
                    d for d in fan_members(doc) if not await self._deliveries.exists(d["_id"])
                ]
                self.submit_fanout(doc, members)
                continue
            if await self._deliveries.is_finished(doc):
                await self._deliveries.discard(doc["_id"])
                continue
            self.submit(doc)

"""The predictions stream -> partition buffers -> Parquet, acknowledged only once stored.

A batched JetStream pull consumer (nats-py, durable, shared by replicas). A message (one request,
or a batch of them in `more`) is acked after every object holding its rows is in the bucket; a
failed write naks the partition's messages for redelivery. A redelivered message lands in an
object again (its rows are de-duplicated by request id on every read), so a crash loses nothing
and duplicates nothing that is read back.
"""

import asyncio
import contextlib
import time
from typing import Any

import structlog
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import FetchTimeoutError

from modelops_contracts.events import MessageDeadLettered, PredictionLogged
from modelops_data_collector import handlers, records
from modelops_data_collector.app_deps import Deps
from modelops_data_collector.buffer import Buffer, Pending
from modelops_data_collector.settings import DataCollectorSettings
from modelops_servicekit.runtime import Runtime

log = structlog.get_logger(__name__)
MAX_CONCURRENT_FLUSHES = 4


class Intake:
    """Pulls batches, buffers rows per partition, flushes on size or age."""

    def __init__(self, runtime: Runtime, settings: DataCollectorSettings, deps: Deps) -> None:
        self._runtime, self._settings, self._deps = runtime, settings, deps
        self._buffer = Buffer(settings.flush_rows, settings.flush_bytes, settings.flush_interval_s)
        self._flushes: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_FLUSHES)
        self._task: asyncio.Task[None] | None = None
        self._mean_size = 1024.0
        self.stored = 0

    async def start(self) -> None:
        await asyncio.to_thread(records.warm_up)  # before the first flush, not during it
        bus, s = self._runtime.bus, self._settings
        js = self._runtime.broker.connection.jetstream()
        self._sub = await js.pull_subscribe(
            bus.subject(PredictionLogged),
            durable=bus.durable(PredictionLogged),
            stream=bus.predictions_stream,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=s.ack_wait_s,
                max_ack_pending=s.max_ack_pending,
                max_waiting=64,
            ),
        )
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop pulling, store what is buffered, wait for the writes."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for pending in self._buffer.drain():
            await self._flush(pending)
        if self._flushes:
            await asyncio.gather(*self._flushes, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._sub.unsubscribe()

    def _batch(self) -> int:
        """Messages per fetch: FETCH_BATCH, fewer when messages are large (FETCH_BYTES)."""
        s = self._settings
        return max(1, min(s.fetch_batch, int(s.fetch_bytes / max(self._mean_size, 1.0))))

    async def _run(self) -> None:
        while True:
            try:
                msgs = await self._sub.fetch(self._batch(), timeout=0.25)
            except (FetchTimeoutError, TimeoutError):
                msgs = []
            except Exception as exc:  # connection trouble: retry, never stop pulling
                log.warning("fetch_failed", error=repr(exc))
                await asyncio.sleep(0.5)
                msgs = []
            now = time.monotonic()
            for msg in msgs:
                await self._take(msg, now)
                await asyncio.sleep(0)  # a batch decodes for ms: let the HTTP API run between
            if msgs:
                size = sum(len(m.data) for m in msgs) / len(msgs)
                self._mean_size = 0.8 * self._mean_size + 0.2 * size
            for pending in self._buffer.due(time.monotonic()):
                await self._flush(pending)

    async def _take(self, msg: Msg, now: float) -> None:
        seq = msg.metadata.sequence.stream
        try:
            rows = records.decode(msg.data, seq)
        except records.BadRecord as exc:
            await self._dead_letter(msg, str(exc))
            return
        for full in self._buffer.add_message(rows, seq, msg, len(msg.data), now):
            await self._flush(full)

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        """Set an unreadable prediction aside as a dead letter with the reason; never drop it."""
        bus = self._runtime.bus
        letter = MessageDeadLettered(
            service=bus.service,
            consumer=bus.durable(PredictionLogged),
            original_subject=bus.bare(msg.subject),
            reason=reason[:2000],
            deliveries=msg.metadata.num_delivered or 1,
            payload=msg.data[:65536].decode("utf-8", errors="replace"),
        )
        try:
            await self._runtime.publisher.publish(letter)
        except Exception as exc:  # not stored as a dead letter yet: JetStream delivers it again
            log.warning("dead_letter_failed", error=repr(exc))
            await msg.nak(delay=1.0)
            return
        log.warning("prediction_dead_lettered", reason=reason[:300])
        await msg.ack()

    async def _flush(self, pending: Pending) -> None:
        await self._slots.acquire()
        task = asyncio.create_task(self._store(pending))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _store(self, pending: Pending) -> None:
        try:
            key = await handlers.store(self._deps, pending)
        except Exception as exc:  # not stored: JetStream delivers these messages again
            log.warning("flush_failed", partition=pending.key.id, error=repr(exc))
            await _settle(self._buffer.failed(pending), nak=True)
        else:
            await _settle(self._buffer.stored(pending), nak=False)
            self.stored += len(pending.rows)
            log.info("partition_stored", key=key, rows=len(pending.rows))
        finally:
            self._slots.release()


async def _settle(tokens: list[Any], *, nak: bool) -> None:
    for msg in tokens:
        with contextlib.suppress(Exception):  # an unacked message is simply redelivered
            await (msg.nak(delay=1.0) if nak else msg.ack())

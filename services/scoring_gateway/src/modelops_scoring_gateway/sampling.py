"""Sampled predictions leave as `PredictionLogged` without adding latency to the response.

The hot path appends a tuple to a bounded buffer (or counts a drop); a background task turns
batches into event payloads and publishes them concurrently.
"""

import asyncio
import contextlib
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog

from modelops_scoring_gateway.stats import Stats

log = structlog.get_logger(__name__)
# (request_id, endpoint, deployment, model_name, version, request body, response body,
#  latency_ms, status, unix time)
Record = tuple[str, str, str, str, str, bytes, bytes, float, int, float]
Message = tuple[str, bytes]  # (event id, PredictionLogged JSON)
SendBatch = Callable[[list[Message]], Awaitable[None]]


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", errors="replace")


def to_message(record: Record) -> Message:
    """The PredictionLogged payload of one record (the contract's field names)."""
    rid, endpoint, deployment, model, version, inputs, outputs, latency, status, at = record
    event_id = str(uuid.uuid4())
    body = {
        "event_id": event_id,
        "occurred_at": datetime.fromtimestamp(at, UTC).isoformat(),
        "correlation_id": rid,
        "request_id": rid,
        "endpoint_name": endpoint,
        "deployment_name": deployment,
        "model_name": model,
        "model_version": int(version) if version.isdigit() else 1,
        "inputs": _json(inputs),
        "outputs": _json(outputs),
        "latency_ms": latency,
        "status_code": status,
    }
    return event_id, orjson.dumps(body)


class PredictionLog:
    """A bounded buffer drained by one background publisher."""

    def __init__(
        self, send: SendBatch, stats: Stats, capacity: int, batch: int, flush_s: float
    ) -> None:
        self._send, self._stats = send, stats
        self._capacity, self._batch, self._flush_s = capacity, batch, flush_s
        self._buffer: deque[Record] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def offer(self, record: Record) -> None:
        """Never blocks: a full buffer drops the record and counts it."""
        if len(self._buffer) >= self._capacity:
            self._stats.predictions_dropped += 1
            return
        self._buffer.append(record)
        if len(self._buffer) >= self._batch:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    async def flush(self) -> None:
        """Publish everything buffered now (batch by batch)."""
        while self._buffer:
            records = [self._buffer.popleft() for _ in range(min(self._batch, len(self._buffer)))]
            messages = [to_message(r) for r in records]
            try:
                await self._send(messages)
            except Exception as exc:  # NATS away: these are lost, counted, never retried inline
                self._stats.predictions_dropped += len(messages)
                log.warning("predictions_dropped", count=len(messages), error=repr(exc))
            else:
                self._stats.predictions_published += len(messages)

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_s)
            self._wake.clear()
            await self.flush()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="prediction-log")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

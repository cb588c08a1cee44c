"""Sampled predictions leave as `PredictionLogged` without adding latency to the response.

The hot path appends a tuple to a bounded buffer (or counts a drop); a background task turns
batches into event payloads and publishes them concurrently. A payload carries every buffered
request to one deployment (the first at the top, the rest in `more`, up to MAX_MESSAGE_BYTES), so
publishing costs one message per deployment per batch, not one per request.
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
MAX_MESSAGE_BYTES = 512 * 1024  # half of NATS' default max_payload (1 MiB)
REQUEST_OVERHEAD = 160  # bytes of one request's keys and scalars, beside its bodies
SendBatch = Callable[[list[Message]], Awaitable[None]]


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", errors="replace")


def _request(record: Record) -> dict[str, Any]:
    """One request's own fields (the contract's names; shared fields are the message's)."""
    rid, _, _, _, _, inputs, outputs, latency, status, at = record
    return {
        "request_id": rid,
        "occurred_at": datetime.fromtimestamp(at, UTC),  # orjson writes it as isoformat() does
        "inputs": _json(inputs),
        "outputs": _json(outputs),
        "latency_ms": latency,
        "status_code": status,
    }


def _message(records: list[Record]) -> Message:
    """One PredictionLogged: the first record at the top, the others (same deployment) in `more`.

    Each request is encoded on its own and the bytes joined, so the objects decoded from its
    bodies die at once instead of living through a batch (and through the GC's generations).
    """
    first, *rest = records
    _, endpoint, deployment, model, version, *_ = first
    event_id = str(uuid.uuid4())
    head = orjson.dumps({
        "event_id": event_id,
        "correlation_id": first[0],
        "endpoint_name": endpoint,
        "deployment_name": deployment,
        "model_name": model,
        "model_version": int(version) if version.isdigit() else 1,
        **_request(first),
    })  # fmt: skip
    if not rest:
        return event_id, head
    more = b",".join([orjson.dumps(_request(r)) for r in rest])
    return event_id, head[:-1] + b',"more":[' + more + b"]}"


def to_message(record: Record) -> Message:
    """The PredictionLogged payload of one record (the contract's field names)."""
    return _message([record])


def to_messages(records: list[Record], max_bytes: int = MAX_MESSAGE_BYTES) -> list[Message]:
    """Records as few messages: one per deployment, split when its bodies exceed max_bytes."""
    chunks: dict[tuple[str, str, str, str], list[list[Record]]] = {}
    sizes: dict[tuple[str, str, str, str], int] = {}
    for record in records:
        key = record[1:5]
        size = len(record[5]) + len(record[6]) + REQUEST_OVERHEAD
        groups = chunks.setdefault(key, [])
        if not groups or sizes[key] + size > max_bytes:
            groups.append([])
            sizes[key] = 0
        groups[-1].append(record)
        sizes[key] += size
    return [_message(group) for groups in chunks.values() for group in groups]


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
        """Publish what is buffered now, batch by batch (requests arriving meanwhile wait for the
        next round, so that they leave in full batches rather than a few per message)."""
        left = len(self._buffer)
        while left > 0:
            records = [self._buffer.popleft() for _ in range(min(self._batch, left))]
            left -= len(records)
            messages = to_messages(records)
            try:
                await self._send(messages)
            except Exception as exc:  # NATS away: these are lost, counted, never retried inline
                self._stats.predictions_dropped += len(records)
                log.warning("predictions_dropped", count=len(records), error=repr(exc))
            else:
                self._stats.predictions_published += len(records)

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
        while self._buffer:
            await self.flush()

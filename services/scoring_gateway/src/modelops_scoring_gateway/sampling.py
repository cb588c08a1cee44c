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
#  latency_ms, status, unix time, bodies are JSON the model server checked)
Record = tuple[str, str, str, str, str, bytes, bytes, float, int, float, bool]
Message = tuple[str, bytes]  # (event id, PredictionLogged JSON)
MAX_MESSAGE_BYTES = 512 * 1024  # half of NATS' default max_payload (1 MiB)
REQUEST_OVERHEAD = 160  # bytes of one request's keys and scalars, beside its bodies
SendBatch = Callable[[list[Message]], Awaitable[None]]
Fragment = orjson.Fragment


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", errors="replace")


def _bodies(record: Record) -> tuple[Any, Any]:
    """Inputs and outputs as the message carries them: verbatim when the model server checked
    both are strict JSON (no parse here, whatever their size), else parsed, or as text."""
    if record[10]:
        return Fragment(record[5]), Fragment(record[6])
    return _json(record[5]), _json(record[6])


def _request(record: Record) -> dict[str, Any]:
    """One request in `more` (the contract's names; occurred_at as Unix seconds)."""
    inputs, outputs = _bodies(record)
    return {"request_id": record[0], "occurred_at": record[9], "inputs": inputs,
            "outputs": outputs, "latency_ms": record[7], "status_code": record[8]}  # fmt: skip


def _message(records: list[Record]) -> Message:
    """One PredictionLogged: the first record at the top, the others (same deployment) in `more`,
    encoded by one orjson call (bodies the model server checked are embedded, not re-encoded)."""
    first, *rest = records
    rid, endpoint, deployment, model, version, *_ = first
    inputs, outputs = _bodies(first)
    event_id = str(uuid.uuid4())
    doc = {
        "event_id": event_id,
        "occurred_at": datetime.fromtimestamp(first[9], UTC),
        "correlation_id": rid,
        "request_id": rid,
        "endpoint_name": endpoint,
        "deployment_name": deployment,
        "model_name": model,
        "model_version": int(version) if version.isdigit() else 1,
        "inputs": inputs,
        "outputs": outputs,
        "latency_ms": first[7],
        "status_code": first[8],
    }
    if rest:
        doc["more"] = [_request(r) for r in rest]
    return event_id, orjson.dumps(doc)


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

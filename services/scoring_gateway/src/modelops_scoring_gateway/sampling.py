"""Sampled predictions leave as `PredictionLogged` without adding latency to the response.

The hot path appends one compact row to its deployment's group (or counts a drop): request id,
Unix time, both bodies, latency, status; bodies the model server checked as strict JSON go in as
`orjson.Fragment`s, embedded verbatim later. A background task publishes each group as one
message (the first request at the top, the others in the contract's compact `rows`, split at
MAX_MESSAGE_BYTES), encoded by a single orjson call: no Python work per request at publishing.
"""

import asyncio
import contextlib
import uuid
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
GroupKey = tuple[str, str, str, str]  # (endpoint, deployment, model_name, version)
Row = tuple[str, float, Any, Any, float, int]
"""(request_id, unix time, inputs, outputs, latency_ms, status): the contract's LoggedRow"""
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


def encode(key: GroupKey, rows: list[Row]) -> Message:
    """One PredictionLogged: the first row's request at the top, the others in `rows`."""
    endpoint, deployment, model, version = key
    rid, at, inputs, outputs, latency, status = rows[0]
    event_id = str(uuid.uuid4())
    doc: dict[str, Any] = {
        "event_id": event_id,
        "occurred_at": datetime.fromtimestamp(at, UTC),
        "correlation_id": rid,
        "request_id": rid,
        "endpoint_name": endpoint,
        "deployment_name": deployment,
        "model_name": model,
        "model_version": int(version) if version.isdigit() else 1,
        "inputs": inputs,
        "outputs": outputs,
        "latency_ms": latency,
        "status_code": status,
    }
    if len(rows) > 1:
        doc["rows"] = rows[1:]
    return event_id, orjson.dumps(doc)


class Group:
    """The rows of one deployment since the last publishing round, in chunks of at most
    MAX_MESSAGE_BYTES of bodies (one message each)."""

    __slots__ = ("chunks", "key", "size")

    def __init__(self, key: GroupKey) -> None:
        self.key = key
        self.chunks: list[list[Row]] = [[]]
        self.size = 0

    def add(self, row: Row, size: int, max_bytes: int) -> None:
        if self.size + size > max_bytes and self.chunks[-1]:
            self.chunks.append([])
            self.size = 0
        self.chunks[-1].append(row)
        self.size += size

    def messages(self) -> list[Message]:
        return [encode(self.key, chunk) for chunk in self.chunks if chunk]


def add_row(
    groups: dict[GroupKey, Group], key: GroupKey, rid: str, at: float, inputs: bytes,
    outputs: bytes, latency: float, status: int, checked: bool, max_bytes: int,
) -> None:  # fmt: skip
    """A request into its deployment's group, as the compact row messages carry (bodies
    verbatim when the model server checked them, else parsed or as text)."""
    group = groups.get(key)
    if group is None:
        group = groups[key] = Group(key)
    if checked:
        row: Row = (rid, at, Fragment(inputs), Fragment(outputs), latency, status)
    else:
        row = (rid, at, _json(inputs), _json(outputs), latency, status)
    group.add(row, len(inputs) + len(outputs) + REQUEST_OVERHEAD, max_bytes)


def to_messages(records: list[Record], max_bytes: int = MAX_MESSAGE_BYTES) -> list[Message]:
    """Records as the gateway would publish them: one message per deployment, split by size."""
    groups: dict[GroupKey, Group] = {}
    for (
        rid,
        endpoint,
        deployment,
        model,
        version,
        inputs,
        outputs,
        latency,
        status,
        at,
        ok,
    ) in records:
        key = (endpoint, deployment, model, version)
        add_row(groups, key, rid, at, inputs, outputs, latency, status, ok, max_bytes)
    return [m for group in groups.values() for m in group.messages()]


def to_message(record: Record) -> Message:
    """The PredictionLogged payload of one record."""
    return to_messages([record])[0]


class PredictionLog:
    """Rows grouped per deployment, drained by one background publisher; bounded in rows."""

    def __init__(
        self, send: SendBatch, stats: Stats, capacity: int, batch: int, flush_s: float
    ) -> None:
        self._send, self._stats = send, stats
        self._capacity, self._batch, self._flush_s = capacity, batch, flush_s
        self._groups: dict[GroupKey, Group] = {}
        self._count = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def offer(
        self, key: GroupKey, rid: str, at: float, inputs: bytes, outputs: bytes, latency: float,
        status: int, checked: bool,
    ) -> None:  # fmt: skip
        """Never blocks: a full log drops the request and counts it."""
        if self._count >= self._capacity:
            self._stats.predictions_dropped += 1
            return
        add_row(self._groups, key, rid, at, inputs, outputs, latency, status, checked,
                MAX_MESSAGE_BYTES)  # fmt: skip
        self._count += 1
        if self._count >= self._batch:
            self._wake.set()

    @property
    def pending(self) -> int:
        return self._count

    async def flush(self) -> None:
        """Publish every group buffered now (requests arriving meanwhile wait for the next
        round, so that they leave in full messages rather than a few per message)."""
        groups, count = self._groups, self._count
        if not count:
            return
        self._groups, self._count = {}, 0
        messages = [m for group in groups.values() for m in group.messages()]
        try:
            await self._send(messages)
        except Exception as exc:  # NATS away: these are lost, counted, never retried inline
            self._stats.predictions_dropped += count
            log.warning("predictions_dropped", count=count, error=repr(exc))
        else:
            self._stats.predictions_published += count

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

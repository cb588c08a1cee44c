"""Use cases: store a partition, close due windows, take feedback, read a window back."""

import asyncio
import json
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]  # no type information shipped
import pyarrow.compute as pc  # type: ignore[import-untyped]  # no type information shipped
import structlog

from modelops_contracts.events import CollectionWindowClosed
from modelops_data_collector import records
from modelops_data_collector.app_deps import Deps
from modelops_data_collector.buffer import Pending
from modelops_servicekit.errors import Invalid

log = structlog.get_logger(__name__)
Document = dict[str, Any]


def _window_doc(pending: Pending) -> Document:
    key, first = pending.key, pending.rows[0]
    return {
        "_id": key.id,
        "endpoint_name": key.endpoint,
        "model_name": first.model_name,
        "model_version": key.model_version,
        "window_start": key.start,
        "window_end": key.end,
        "prefix": key.prefix,
    }


async def store(deps: Deps, pending: Pending) -> str:
    """Write a partition's rows as one Parquet object, named by the messages it holds (the same
    messages stored again overwrite it; other messages never do)."""
    tag = zlib.crc32(b",".join(b"%d" % s for s in sorted(d.seq for d in pending.deliveries)))
    key = pending.key.object_key(pending.first_seq, pending.last_seq, f"{tag:08x}")
    data = await asyncio.to_thread(lambda: records.parquet_bytes(records.to_table(pending.rows)))
    await deps.objects.put_bytes(key, data)
    if not await deps.windows.touch(_window_doc(pending), len(pending.rows)):
        log.warning("late_rows_after_close", window=pending.key.id, rows=len(pending.rows))
    return key


async def _partition_tables(deps: Deps, prefix: str, columns: list[str] | None) -> list[pa.Table]:
    keys = [k for k in await deps.objects.list(prefix) if k.endswith(".parquet")]
    tables = []
    for k in keys:
        data = await deps.objects.get_bytes(k)
        tables.append(await asyncio.to_thread(records.read_parquet, data, columns))
    return tables


async def close_due(deps: Deps, now: datetime) -> int:
    """Close every open window whose hour ended more than the grace period ago."""
    closed = 0
    for doc in await deps.windows.due(now - timedelta(seconds=deps.window_grace_s)):
        tables = await _partition_tables(deps, doc["prefix"], ["request_id"])
        count = await asyncio.to_thread(records.unique_ids, tables)
        uri = f"s3://{deps.objects.bucket}/{doc['prefix']}"
        event = CollectionWindowClosed(
            endpoint_name=doc["endpoint_name"],
            model_name=doc["model_name"],
            model_version=doc["model_version"],
            window_start=doc["window_start"].replace(tzinfo=UTC),
            window_end=doc["window_end"].replace(tzinfo=UTC),
            row_count=count,
            data_uri=uri,
        )
        if await deps.windows.close(doc["_id"], count, uri, event):
            log.info("window_closed", window=doc["_id"], rows=count)
            closed += 1
    if closed:
        deps.kick()
    return closed


async def upload_feedback(deps: Deps, items: list[Document], endpoint: str | None) -> Document:
    """Upsert labels by request id (the same upload twice leaves the same state)."""
    if not items:
        raise Invalid("no feedback rows")
    if len(items) > deps.feedback_max_rows:
        raise Invalid(f"at most {deps.feedback_max_rows} feedback rows per request")
    counts = await deps.feedback.upsert(items, endpoint)
    table = records.feedback_table(items)
    data = await asyncio.to_thread(records.parquet_bytes, table)
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    await deps.objects.put_bytes(
        f"{records.FEEDBACK_PREFIX}/{stamp}-{uuid.uuid4().hex[:8]}.parquet", data
    )
    return counts


async def _labels(deps: Deps) -> dict[str, str]:
    """request_id -> label (JSON text) over every upload, the latest upload winning."""
    keys = sorted(
        k for k in await deps.objects.list(f"{records.FEEDBACK_PREFIX}/") if k.endswith(".parquet")
    )
    out: dict[str, str] = {}
    for k in keys:
        table = await asyncio.to_thread(records.read_parquet, await deps.objects.get_bytes(k))
        out.update(
            zip(table["request_id"].to_pylist(), table["label_json"].to_pylist(), strict=True)
        )
    return out


def _prefixes(endpoint: str, version: str | None, start: datetime, end: datetime) -> list[str]:
    if version is not None:
        return [
            records.PartitionKey(endpoint, version, f"{h:%Y-%m-%d}", f"{h:%H}").prefix
            for h in records.hours(start, end)
        ]
    return [f"{records.PREFIX}/endpoint={endpoint}/"]


async def read_window(
    deps: Deps, endpoint: str, version: str | None, start: datetime, end: datetime
) -> pa.Table | None:
    """The rows of [start, end) (one per request id) joined with their labels; None if empty."""
    if end <= start:
        raise Invalid("end must be after start")
    first_hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    tables: list[pa.Table] = []
    for prefix in _prefixes(endpoint, version, start, end):
        keys = [k for k in await deps.objects.list(prefix) if k.endswith(".parquet")]
        for k in keys:
            part = records.parse_key(k)
            if part is None or not (first_hour <= part.start < end):
                continue
            table = await asyncio.to_thread(records.read_parquet, await deps.objects.get_bytes(k))
            mask = pc.and_(pc.greater_equal(table["ts"], start), pc.less(table["ts"], end))
            tables.append(table.filter(mask))
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return None
    table = await asyncio.to_thread(
        lambda: records.dedupe(pa.concat_tables(tables, promote_options="permissive"))
    )
    ids = table.column("request_id").to_pylist()
    labels = await _labels(deps)
    values = [json.loads(labels[i]) if i in labels else None for i in ids]
    return table.append_column("label", records.column(values))

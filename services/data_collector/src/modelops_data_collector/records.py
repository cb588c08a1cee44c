"""Pure: a logged prediction as a collected row, partitions, object keys and Parquet tables.

A message holds one request, or a batch (the first at the top, the others in `more`, sharing the
endpoint, deployment and model version). Parquet schema of every collected object (one row per
logged request):
- `request_id` string, `ts` timestamp[us, UTC] (event time), `seq` uint64 (stream sequence of the
  message; the requests of one batch share it),
  `endpoint_name`, `deployment_name`, `model_name`, `model_version` strings, `latency_ms` float64,
  `status_code` int64, `inputs_json` / `outputs_json` (the request's inputs and outputs, JSON text);
- `prediction`: the output when it is one scalar (bare, a one-element list, or one key such as
  `predictions`/`outputs`/`data` around it), else null;
- one column per input feature when the inputs are one row: a flat object of scalars
  (`{"age": 3}`), a list of scalars (`[1, 2]` -> `f0`, `f1`), or either wrapped once in a one-row
  list or a `data`/`instances`/`inputs`/`dataframe_records`/`dataframe_split` envelope. A
  feature named like a column above is stored as `input_<name>`.
A column whose values mix types is stored as text (non-string values as JSON).
`GET /v1/collected` adds `label`.
"""

import functools
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa  # type: ignore[import-untyped]  # no type information shipped
import pyarrow.parquet as pq  # type: ignore[import-untyped]  # no type information shipped

Scalar = str | int | float | bool | None
BASE_COLUMNS = (
    "request_id",
    "ts",
    "seq",
    "endpoint_name",
    "deployment_name",
    "model_name",
    "model_version",
    "latency_ms",
    "status_code",
    "inputs_json",
    "outputs_json",
    "prediction",
    "label",
)
BASE_NAMES = frozenset(BASE_COLUMNS)
JSON_SCALARS = frozenset({str, int, float, bool, type(None)})
ENVELOPES = ("data", "instances", "inputs", "dataframe_records")
OUTPUT_KEYS = ("predictions", "prediction", "outputs", "output", "data", "result", "Results")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
TIMESTAMP = pa.timestamp("us", tz="UTC")
PREFIX = "collected"
FEEDBACK_PREFIX = "feedback"


class BadRecord(Exception):
    """A message that is not a readable PredictionLogged."""


@dataclass(frozen=True)
class PartitionKey:
    """One hour of one model version behind one endpoint."""

    endpoint: str
    model_version: str
    date: str
    hour: str

    @property
    def prefix(self) -> str:
        return (
            f"{PREFIX}/endpoint={self.endpoint}/model_version={self.model_version}"
            f"/date={self.date}/hour={self.hour}/"
        )

    @property
    def id(self) -> str:
        return f"{self.endpoint}/{self.model_version}/{self.date}T{self.hour}"

    @property
    def start(self) -> datetime:
        return datetime.fromisoformat(f"{self.date}T{self.hour}:00:00+00:00")

    @property
    def end(self) -> datetime:
        return self.start + timedelta(hours=1)

    def object_key(self, first_seq: int, last_seq: int, tag: str = "") -> str:
        return f"{self.prefix}{first_seq}-{last_seq}{'-' + tag if tag else ''}.parquet"


@dataclass(slots=True)
class Row:
    """One collected prediction as decoded; its columns are derived when the table is built."""

    request_id: str
    ts_us: int  # event time, microseconds since the epoch (UTC)
    seq: int  # stream sequence of the message that carried it
    partition: PartitionKey
    deployment_name: str
    model_name: str
    latency_ms: float
    status_code: int
    inputs: Any
    outputs: Any


def _scalar(v: object) -> bool:
    return v is None or isinstance(v, str | int | float | bool)


def _scalars(values: Iterable[object]) -> bool:
    """All scalars (the exact JSON types checked first: the common case, and cheap)."""
    values = list(values)
    return JSON_SCALARS.issuperset(map(type, values)) or all(_scalar(v) for v in values)


def features_of(inputs: Any) -> dict[str, Scalar]:
    """The input features of a one-row request, else {} (see the module doc)."""
    if isinstance(inputs, list):
        if len(inputs) == 1 and not _scalar(inputs[0]):
            return features_of(inputs[0])
        if _scalars(inputs):
            return {f"f{i}": v for i, v in enumerate(inputs)}
        return {}
    if not isinstance(inputs, dict):
        return {}
    if len(inputs) == 1:
        (key, value), *_ = inputs.items()
        if key in ENVELOPES and not _scalar(value):
            return features_of(value)
        if key == "dataframe_split" and isinstance(value, dict):
            cols, data = value.get("columns"), value.get("data")
            if isinstance(cols, list) and isinstance(data, list) and len(data) == 1:
                return features_of(dict(zip(cols, data[0], strict=False)))
            return {}
    if _scalars(inputs.values()):
        if BASE_NAMES.isdisjoint(inputs):
            return {str(k): v for k, v in inputs.items()}
        return {(f"input_{k}" if k in BASE_COLUMNS else str(k)): v for k, v in inputs.items()}
    return {}


def prediction_of(outputs: Any) -> Scalar:
    """The output when it is one scalar, else None."""
    if _scalar(outputs):
        return outputs  # type: ignore[no-any-return]  # checked scalar
    if isinstance(outputs, list):
        return prediction_of(outputs[0]) if len(outputs) == 1 else None
    if isinstance(outputs, dict):
        for key in OUTPUT_KEYS:
            if key in outputs:
                return prediction_of(outputs[key])
    return None


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:  # NaN/Infinity or other input orjson refuses
        return json.loads(body)


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # an integer beyond 64 bits
        return json.dumps(value, separators=(",", ":")).encode()


@functools.lru_cache(maxsize=4096)
def _partition(
    endpoint: str, version: str, year: int, month: int, day: int, hour: int
) -> PartitionKey:
    return PartitionKey(endpoint, version, f"{year:04d}-{month:02d}-{day:02d}", f"{hour:02d}")


def _row(d: dict[str, Any], seq: int, shared: tuple[str, str, str, str]) -> Row:
    endpoint, deployment, model, version = shared
    at = d["occurred_at"]
    if isinstance(at, int | float):  # Unix seconds: the gateway's compact form in `more`
        ts = datetime.fromtimestamp(at, UTC)
    else:
        ts = datetime.fromisoformat(at)
        if ts.tzinfo is not UTC:
            ts = ts.astimezone(UTC)
    return Row(
        request_id=str(d["request_id"]),
        ts_us=(ts - EPOCH) // MICROSECOND,
        seq=seq,
        partition=_partition(endpoint, version, ts.year, ts.month, ts.day, ts.hour),
        deployment_name=deployment,
        model_name=model,
        latency_ms=float(d.get("latency_ms", 0.0)),
        status_code=int(d.get("status_code", 200)),
        inputs=d.get("inputs"),
        outputs=d.get("outputs"),
    )


def _compact(row: list[Any], seq: int, shared: tuple[str, str, str, str]) -> Row:
    """A LoggedRow: [request_id, unix seconds, inputs, outputs, latency_ms, status_code]."""
    rid, at, inputs, outputs, latency, status = row
    fields = {"request_id": rid, "occurred_at": at, "inputs": inputs, "outputs": outputs,
              "latency_ms": latency, "status_code": status}  # fmt: skip
    return _row(fields, seq, shared)


def decode(body: bytes, seq: int) -> list[Row]:
    """The rows of a PredictionLogged message (its request, then those in `more`)."""
    try:
        d = _loads(body)
        shared = (
            str(d["endpoint_name"]),
            str(d.get("deployment_name", "")),
            str(d["model_name"]),
            str(d["model_version"]),
        )
        more = d.get("more") or []
        rows = d.get("rows") or []
        if not isinstance(more, list) or not isinstance(rows, list):
            raise TypeError("more or rows is not a list")
        out = [_row(d, seq, shared), *(_row(m, seq, shared) for m in more)]
        return out + [_compact(r, seq, shared) for r in rows]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadRecord(f"not a PredictionLogged: {exc!r}") from exc


def parse(body: bytes, seq: int) -> Row:
    """The first row of a message (a message of one request: its only row)."""
    return decode(body, seq)[0]


def column(values: list[Any]) -> pa.Array:
    """An Arrow column; values of mixed types are stored as text (non-strings as JSON)."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        text = [v if v is None or isinstance(v, str) else json.dumps(v) for v in values]
        return pa.array(text, pa.string())


def _text(values: list[bytes]) -> pa.Array:
    return pa.array(values, pa.string())


def to_table(rows: list[Row]) -> pa.Table:
    """Rows as an Arrow table with the documented schema, built column by column."""
    keys = [r.partition for r in rows]
    cols: dict[str, pa.Array] = {
        "request_id": pa.array([r.request_id for r in rows], pa.string()),
        "ts": pa.array([r.ts_us for r in rows], pa.int64()).cast(TIMESTAMP),
        "seq": pa.array([r.seq for r in rows], pa.uint64()),
        "endpoint_name": pa.array([k.endpoint for k in keys], pa.string()),
        "deployment_name": pa.array([r.deployment_name for r in rows], pa.string()),
        "model_name": pa.array([r.model_name for r in rows], pa.string()),
        "model_version": pa.array([k.model_version for k in keys], pa.string()),
        "latency_ms": pa.array([r.latency_ms for r in rows], pa.float64()),
        "status_code": pa.array([r.status_code for r in rows], pa.int64()),
        "inputs_json": _text([_dumps(r.inputs) for r in rows]),
        "outputs_json": _text([_dumps(r.outputs) for r in rows]),
        "prediction": column([prediction_of(r.outputs) for r in rows]),
    }
    features = [features_of(r.inputs) for r in rows]
    names: dict[str, None] = {}
    for f in features:
        names.update(dict.fromkeys(f))
    for name in names:
        cols[name] = column([f.get(name) for f in features])
    return pa.table(cols)


def warm_up() -> None:
    """Build and write a one-row table: pyarrow imports pandas on its first array (seconds)."""
    body = b'{"request_id":"w","occurred_at":"2026-01-01T00:00:00+00:00","endpoint_name":"w",'
    body += b'"model_name":"w","model_version":1,"inputs":{"x":1},"outputs":[1]}'
    parquet_bytes(to_table(decode(body, 0)))


def parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def read_parquet(data: bytes, columns: list[str] | None = None) -> pa.Table:
    return pq.read_table(io.BytesIO(data), columns=columns)


def parse_key(key: str) -> PartitionKey | None:
    """The partition of an object key written by `PartitionKey.object_key`."""
    parts = dict(p.split("=", 1) for p in key.split("/")[1:-1] if "=" in p)
    try:
        return PartitionKey(parts["endpoint"], parts["model_version"], parts["date"], parts["hour"])
    except KeyError:
        return None


def hours(start: datetime, end: datetime) -> Iterator[datetime]:
    """The starts of the hours that overlap [start, end)."""
    at = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    while at < end:
        yield at
        at += timedelta(hours=1)


def dedupe(table: pa.Table) -> pa.Table:
    """One row per request id (the first by event time, then stream sequence)."""
    table = table.sort_by([("ts", "ascending"), ("seq", "ascending")])
    seen: set[str] = set()
    keep: list[int] = []
    for i, rid in enumerate(table.column("request_id").to_pylist()):
        if rid not in seen:
            seen.add(rid)
            keep.append(i)
    return table if len(keep) == table.num_rows else table.take(keep)


def unique_ids(tables: Iterable[pa.Table]) -> int:
    ids: set[str] = set()
    for t in tables:
        ids.update(t.column("request_id").to_pylist())
    return len(ids)


def feedback_table(items: list[dict[str, Any]]) -> pa.Table:
    """An upload of labels: `request_id` and `label_json` (the label as JSON text)."""
    return pa.table(
        {
            "request_id": pa.array([i["request_id"] for i in items], pa.string()),
            "label_json": pa.array([json.dumps(i["label"]) for i in items], pa.string()),
        }
    )

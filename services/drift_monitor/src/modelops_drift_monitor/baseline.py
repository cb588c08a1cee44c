"""A baseline's statistics, computed once per monitor and stored: what every drift check reuses.

Numerical columns keep their finite values sorted (exact Wasserstein, KS and binning), plus
std, min, max and the number of distinct values; categorical columns keep their value counts.
Both keep row and null counts for data quality. Stored as one .npz (no pickles) whose arrays
are loaded lazily, one column at a time.
"""

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]  # no type information shipped
import pyarrow.compute as pc  # type: ignore[import-untyped]  # no type information shipped
import pyarrow.dataset as pads  # type: ignore[import-untyped]  # no type information shipped

from modelops_drift_monitor.stattests import Floats

Kind = Literal["numerical", "categorical"]
Key = str | float | bool
INTEGER_CATEGORICAL_UNIQUE = 10  # Evidently 0.7 infer_column_type: ints with <= 10 values
TEXT_UNIQUE_SHARE = 0.5  # strings with nunique > 50% of rows are text (not drift-tested)
FORMAT = "modelops-baseline/1"


@dataclass
class ColumnStats:
    """Summary of one baseline column."""

    name: str
    kind: Kind
    rows: int
    nulls: int
    count: int  # finite, non-null values
    unique: int
    std: float = 0.0
    minimum: float | None = None
    maximum: float | None = None
    counts: dict[str, int] = field(default_factory=dict)  # categorical, keys JSON-encoded
    key_type: str = "string"  # string | number | bool


@dataclass
class Baseline:
    """Per-column statistics of a reference dataset; numerical values loaded on demand."""

    rows: int
    columns: dict[str, ColumnStats]
    skipped: dict[str, str] = field(default_factory=dict)
    source: str = ""
    _arrays: dict[str, Floats] = field(default_factory=dict, repr=False)
    _npz: "np.lib.npyio.NpzFile | None" = field(default=None, repr=False)

    def values(self, name: str) -> Floats:
        """The sorted finite values of a numerical column."""
        if name not in self._arrays:
            if self._npz is None:
                raise KeyError(name)
            index = list(self.columns).index(name)
            return np.asarray(self._npz[f"c{index}"], dtype=np.float64)
        return self._arrays[name]

    def counts(self, name: str) -> dict[Key, int]:
        """Value counts of a categorical column, keys decoded."""
        return {json.loads(k): v for k, v in self.columns[name].counts.items()}


def _arrow_kind(col: pa.ChunkedArray, unique: int, count: int) -> Kind | str:
    t = col.type
    if pa.types.is_floating(t):
        return "numerical"
    if pa.types.is_integer(t):
        return "categorical" if unique <= INTEGER_CATEGORICAL_UNIQUE else "numerical"
    if pa.types.is_boolean(t) or pa.types.is_dictionary(t):
        return "categorical"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "text" if unique > count * TEXT_UNIQUE_SHARE else "categorical"
    return f"unsupported type {t}"


def finite_sorted(col: pa.ChunkedArray | pa.Array) -> Floats:
    """The finite values of a numerical column as sorted float64."""
    arr = np.asarray(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    arr.sort()
    return arr


def key_type(t: pa.DataType) -> str:
    """How categorical keys of an arrow type are normalised."""
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return "number"
    return "string"


def category_counts(col: pa.ChunkedArray | pa.Array, ktype: str) -> dict[Key, int]:
    """Value counts of a column normalised to the baseline's key type; nulls dropped."""
    target = {"bool": pa.bool_(), "number": pa.float64(), "string": pa.string()}[ktype]
    if pa.types.is_dictionary(col.type):
        col = pc.cast(col, col.type.value_type)
    try:
        col = pc.cast(col, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        col = pc.cast(col, pa.string())
    col = pc.drop_null(col)
    if ktype == "number":
        col = pc.filter(col, pc.is_finite(col))
    vc = pc.value_counts(col)
    values = vc.field("values").to_pylist()
    return dict(zip(values, vc.field("counts").to_pylist(), strict=True))


def column_stats(name: str, col: pa.ChunkedArray, kind: Kind | None) -> tuple[ColumnStats, Floats]:
    """Statistics of one column (its sorted values when numerical)."""
    rows = len(col)
    nulls = col.null_count
    if pa.types.is_floating(col.type):
        nulls += int(pc.sum(pc.is_nan(col)).as_py() or 0)
    unique = int(pc.count_distinct(col).as_py() or 0)
    inferred = kind or _arrow_kind(col, unique, rows - nulls)
    if inferred not in ("numerical", "categorical"):
        raise ValueError(inferred)
    if inferred == "numerical":
        values = finite_sorted(col)
        uniq = int(np.count_nonzero(np.diff(values)) + 1) if values.size else 0
        return ColumnStats(
            name,
            "numerical",
            rows,
            nulls,
            int(values.size),
            uniq,
            std=float(np.std(values)) if values.size else 0.0,
            minimum=float(values[0]) if values.size else None,
            maximum=float(values[-1]) if values.size else None,
        ), values
    ktype = key_type(col.type)
    counts = category_counts(col, ktype)
    encoded = {json.dumps(k): int(v) for k, v in counts.items()}
    total = sum(counts.values())
    stats = ColumnStats(name, "categorical", rows, nulls, total, len(counts), key_type=ktype)
    stats.counts = encoded
    return stats, np.empty(0)


def build_baseline(
    source: pads.Dataset, columns: Iterable[str] | None = None, kinds: dict[str, Kind] | None = None
) -> Baseline:
    """Read a reference dataset column by column and summarise it."""
    names = list(columns) if columns is not None else list(source.schema.names)
    kinds = kinds or {}
    out = Baseline(rows=source.count_rows(), columns={})
    for name in names:
        if name not in source.schema.names:
            out.skipped[name] = "not in the baseline"
            continue
        col = source.to_table(columns=[name]).column(0)
        if pa.types.is_null(col.type):  # e.g. labels not given yet: nothing to summarise
            out.skipped[name] = "every value is null"
            continue
        try:
            stats, values = column_stats(name, col, kinds.get(name))
        except ValueError as exc:
            out.skipped[name] = str(exc)
            continue
        out.columns[name] = stats
        if stats.kind == "numerical":
            out._arrays[name] = values
    return out


def save_baseline(baseline: Baseline, path: Path) -> None:
    """Write the statistics and sorted values as one .npz file."""
    meta = {
        "format": FORMAT,
        "rows": baseline.rows,
        "source": baseline.source,
        "skipped": baseline.skipped,
        "columns": [asdict(c) for c in baseline.columns.values()],
    }
    arrays = {
        f"c{i}": baseline.values(n) for i, n in enumerate(baseline.columns) if n in baseline._arrays
    }
    meta_bytes = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with path.open("wb") as f:
        np.savez(f, meta=meta_bytes, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as bool


def load_baseline(path: Path) -> Baseline:
    """Open a stored baseline; numerical values are read when first used."""
    npz = np.load(path, allow_pickle=False)
    meta = json.loads(bytes(npz["meta"]).decode())
    if meta.get("format") != FORMAT:
        raise ValueError(f"not a baseline file: {path}")
    cols = {c["name"]: ColumnStats(**c) for c in meta["columns"]}
    return Baseline(meta["rows"], cols, meta["skipped"], meta["source"], _npz=npz)

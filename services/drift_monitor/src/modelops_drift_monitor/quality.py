"""Data quality of a current column against its baseline: nulls, type errors, out of range."""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]  # no type information shipped
import pyarrow.compute as pc  # type: ignore[import-untyped]  # no type information shipped

from modelops_drift_monitor.baseline import Baseline, ColumnStats, category_counts


@dataclass(frozen=True)
class ColumnQuality:
    """Shares of the current column's rows (0..1) and the baseline's null share."""

    null_share: float
    baseline_null_share: float
    type_error_share: float
    out_of_range_share: float  # numerical: outside [baseline min, max]; categorical: unseen values


def _numbers(col: pa.ChunkedArray) -> tuple[np.ndarray, int]:
    """Float values (NaN for nulls) and how many non-null values were not numbers."""
    if (
        pa.types.is_integer(col.type)
        or pa.types.is_floating(col.type)
        or pa.types.is_boolean(col.type)
    ):
        return np.asarray(
            pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64
        ), 0
    text = pc.cast(col, pa.string())
    parsed = []
    errors = 0
    for v in text.to_pylist():
        try:
            parsed.append(float(v) if v is not None else np.nan)
        except ValueError:
            parsed.append(np.nan)
            errors += 1
    return np.asarray(parsed, dtype=np.float64), errors


def column_quality(stats: ColumnStats, col: pa.ChunkedArray, baseline: Baseline) -> ColumnQuality:
    """Quality shares of one current column."""
    rows = max(len(col), 1)
    base_null = stats.nulls / max(stats.rows, 1)
    if stats.kind == "numerical":
        values, errors = _numbers(col)
        nulls = int(np.count_nonzero(np.isnan(values))) - errors
        lo, hi = stats.minimum, stats.maximum
        finite = values[np.isfinite(values)]
        outside = (
            0 if lo is None or hi is None else int(np.count_nonzero((finite < lo) | (finite > hi)))
        )
        return ColumnQuality(nulls / rows, base_null, errors / rows, outside / rows)
    nulls = col.null_count
    known = set(baseline.counts(stats.name))
    counts = category_counts(col, stats.key_type)
    unseen = sum(c for k, c in counts.items() if k not in known)
    return ColumnQuality(nulls / rows, base_null, 0.0, unseen / rows)

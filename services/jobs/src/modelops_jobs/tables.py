"""Tabular data of runs and evaluations: read, split by holdout, keep labelled rows, features.

Collected production data (the data collector's Parquet) carries metadata columns next to one
column per feature and the joined `label`; rows whose request id falls in the holdout are kept
for evaluation and never given to training.
"""

from pathlib import Path

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]  # no type information shipped
import pyarrow.compute as pc  # type: ignore[import-untyped]  # no type information shipped
import pyarrow.csv as pcsv  # type: ignore[import-untyped]  # no type information shipped
import pyarrow.parquet as pq  # type: ignore[import-untyped]  # no type information shipped

from modelops_jobs.promotion import in_holdout
from modelops_servicekit.errors import Invalid

COLLECTED_META = frozenset(
    {
        "request_id", "ts", "seq", "endpoint_name", "deployment_name", "model_name",
        "model_version", "latency_ms", "status_code", "inputs_json", "outputs_json",
        "prediction", "label",
    }
)  # fmt: skip
"""Columns of a collected window that are not features."""


def read(paths: list[Path]) -> pa.Table:
    """Parquet and CSV files as one table (columns unified by name)."""
    tables = [pq.read_table(p) if p.suffix == ".parquet" else pcsv.read_csv(p) for p in paths]
    if not tables:
        raise Invalid("no data files")
    return pa.concat_tables(tables, promote_options="permissive")


def holdout_mask(table: pa.Table, fraction: float) -> pa.Array:
    """True for the rows reserved for evaluation."""
    ids = table.column("request_id").to_pylist()
    return pa.array([in_holdout(str(i), fraction) for i in ids], type=pa.bool_())


def split(table: pa.Table, fraction: float, holdout: bool) -> pa.Table:
    """The holdout rows (holdout=True) or the others."""
    mask = holdout_mask(table, fraction)
    return table.filter(mask if holdout else pc.invert(mask))


def labelled(table: pa.Table, label: str) -> pa.Table:
    """Rows whose label is known."""
    if label not in table.column_names:
        raise Invalid(f"the data has no {label!r} column (columns: {table.column_names})")
    return table.filter(pc.is_valid(table.column(label)))


def feature_names(table: pa.Table, label: str, collected: bool) -> list[str]:
    """Every column but the label (and, for collected data, the metadata columns)."""
    skip = COLLECTED_META | {label} if collected else {label}
    return [c for c in table.column_names if c not in skip]


def write(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path)


def matrix(table: pa.Table, features: list[str]) -> np.ndarray:
    """The feature columns as a float64 matrix (rows x features)."""
    missing = [f for f in features if f not in table.column_names]
    if missing:
        raise Invalid(f"the evaluation data lacks features {missing}")
    cols = [table.column(f).cast(pa.float64()).to_numpy(zero_copy_only=False) for f in features]
    return np.column_stack(cols) if cols else np.empty((table.num_rows, 0))

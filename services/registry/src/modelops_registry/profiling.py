"""Dataset profiles: row count, columns, types and basic statistics (pandas on pyarrow)."""

import asyncio
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelops_contracts.api.registry import FileEntry
from modelops_registry.inspection import Locate
from modelops_servicekit.errors import Invalid
from modelops_servicekit.objects import ObjectStore

TOP_VALUES = 5


def _number(value: Any) -> float | None:
    number = float(value)
    return None if math.isnan(number) or math.isinf(number) else number


def _column(series: Any) -> dict[str, Any]:
    import pandas as pd  # type: ignore[import-untyped]  # no type information; heavy: lazy

    profile: dict[str, Any] = {
        "name": str(series.name),
        "dtype": str(series.dtype),
        "null_count": int(series.isna().sum()),
    }
    values = series.dropna()
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        counts = values.astype(str).value_counts().head(TOP_VALUES)
        profile["kind"] = "categorical"
        profile["unique"] = int(values.astype(str).nunique())
        profile["top_values"] = [{"value": str(k), "count": int(v)} for k, v in counts.items()]
        return profile
    profile["kind"] = "numeric"
    if len(values):
        profile.update(
            min=_number(values.min()),
            max=_number(values.max()),
            mean=_number(values.mean()),
            std=_number(values.std()) if len(values) > 1 else 0.0,
        )
    return profile


def read_table(paths: Sequence[Path], fmt: str) -> Any:
    """Every file of a dataset version as one pyarrow table (the files must share columns)."""
    import pyarrow as pa  # type: ignore[import-untyped]  # no type information; heavy: lazy
    import pyarrow.csv as pa_csv  # type: ignore[import-untyped]  # idem
    import pyarrow.parquet as pq  # type: ignore[import-untyped]  # idem

    try:
        tables = [pq.read_table(p) if fmt == "parquet" else pa_csv.read_csv(p) for p in paths]
        return pa.concat_tables(tables, promote_options="default")
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise Invalid(f"cannot read the {fmt} files of this dataset: {exc}") from exc


def profile_table(table: Any) -> dict[str, Any]:
    """The profile of a table: row count, column names, types and statistics."""
    frame = table.to_pandas()
    return {
        "row_count": int(table.num_rows),
        "columns": [_column(frame[name]) for name in frame.columns],
    }


def profile_files(paths: Sequence[Path], fmt: str) -> dict[str, Any]:
    return profile_table(read_table(paths, fmt))


class BlobProfiler:
    """Downloads a dataset version's blobs (verified) and profiles them."""

    def __init__(self, store: ObjectStore, locate: Locate, max_bytes: int) -> None:
        self._store = store
        self._locate = locate
        self._max_bytes = max_bytes

    async def profile(self, files: Sequence[FileEntry], fmt: str) -> dict[str, Any]:
        total = sum(f.size for f in files)
        if total > self._max_bytes:
            return {"skipped": f"{total} bytes exceed the profiling limit of {self._max_bytes}"}
        with tempfile.TemporaryDirectory(prefix="registry-profile-") as tmp:
            paths = []
            for i, entry in enumerate(files):
                local = Path(tmp) / f"{i}.{fmt}"
                await self._store.get_file(await self._locate(entry), local)
                paths.append(local)
            return await asyncio.to_thread(profile_files, paths, fmt)

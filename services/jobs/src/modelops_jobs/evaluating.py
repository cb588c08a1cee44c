"""Score a challenger and the champion on the same labelled data (a policy's evaluation data).

The data is a held-out dataset version and/or the labelled holdout rows of an endpoint's recent
production data; both models are downloaded from the registry and scored in process.
"""

import asyncio
import shutil
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]  # no type information shipped

from modelops_jobs import scoring, tables
from modelops_jobs.app_deps import Deps
from modelops_jobs.inputs import recent_rows
from modelops_jobs.ports import Document
from modelops_servicekit.errors import Invalid


async def _dataset(deps: Deps, ev: Document, folder: Path) -> tuple[pa.Table, Document]:
    info = await deps.datasets.describe(ev["dataset"], ev["dataset_version"])
    paths = await deps.datasets.fetch(ev["dataset"], str(info["version"]), folder)
    table = await asyncio.to_thread(tables.read, paths)
    return table, {"dataset": ev["dataset"], "version": info["version"], "rows": table.num_rows}


async def _collected(deps: Deps, ev: Document, path: Path) -> tuple[pa.Table | None, Document]:
    held, window = await recent_rows(
        deps.windows, ev["endpoint"], ev["window_s"], path, deps.settings.holdout_fraction,
        holdout=True, labelled_only=True,
    )  # fmt: skip
    rows = 0 if held is None else held.num_rows
    return held, {"endpoint": ev["endpoint"], "window": window, "rows": rows}


def _combine(parts: list[tuple[pa.Table, bool]], label: str, features: list[str]) -> pa.Table:
    """The feature and label columns of every part, stacked (the collected `label` renamed)."""
    out = []
    for table, collected in parts:
        if collected and label != "label":
            table = table.rename_columns([label if c == "label" else c for c in table.column_names])
        out.append(tables.labelled(table, label).select([*features, label]))
    return pa.concat_tables(out, promote_options="permissive")


async def evaluation_data(deps: Deps, ev: Document, folder: Path) -> tuple[pa.Table, Document]:
    """The labelled rows to score on, their features, and where they came from."""
    parts: list[tuple[pa.Table, bool]] = []
    sources: list[Document] = []
    if ev.get("dataset"):
        table, source = await _dataset(deps, ev, folder)
        parts.append((table, False))
        sources.append(source)
    if ev.get("endpoint"):
        held, source = await _collected(deps, ev, folder / "collected.parquet")
        sources.append(source)
        if held is not None and held.num_rows:
            parts.append((held, True))
    if not parts:
        raise Invalid("no evaluation rows: the dataset is empty and no production row is labelled")
    label = ev["label_column"]
    first, first_collected = parts[0]
    features = ev.get("features") or tables.feature_names(first, label, first_collected)
    table = await asyncio.to_thread(_combine, parts, label, features)
    return table, {"sources": sources, "features": features, "rows": table.num_rows}


async def _score(
    deps: Deps,
    name: str,
    version: int,
    folder: Path,
    table: pa.Table,
    ev: Document,
) -> Document:
    info = await deps.models.fetch(name, version, folder)
    x = tables.matrix(table, [c for c in table.column_names if c != ev["label_column"]])
    y = table.column(ev["label_column"]).to_pylist()
    metrics = await asyncio.to_thread(scoring.metrics, folder, x, y, ev["task"])
    return {"version": version, "content_digest": info.get("content_digest"), "metrics": metrics}


async def compare(deps: Deps, policy: Document, challenger: int, champion: int | None) -> Document:
    """Both versions' metrics on the same rows (champion None: the alias is not set yet)."""
    folder = deps.settings.evaluation_dir / uuid.uuid4().hex
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    name, ev = policy["model_name"], policy["evaluation"]
    try:
        table, data = await evaluation_data(deps, ev, folder)
        result: dict[str, Any] = {"data": data}
        result["challenger"] = await _score(deps, name, challenger, folder / "new", table, ev)
        result["champion"] = (
            None
            if champion is None
            else await _score(deps, name, champion, folder / "champion", table, ev)
        )
        return result
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)

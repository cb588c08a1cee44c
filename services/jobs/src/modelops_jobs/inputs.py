"""Run inputs, fetched before the command starts: registered dataset versions through the
registry, and an endpoint's collected production data through the data collector (its rows
held out for evaluation removed). Each input lands in its own folder; its files' digests are
recorded on the run."""

import asyncio
import hashlib
from datetime import timedelta
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]  # no type information shipped

from modelops_jobs import tables
from modelops_jobs.domain import now
from modelops_jobs.ports import Datasets, Document, Windows

COLLECTED_FILE = "collected.parquet"


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def _files(folder: Path) -> list[Document]:
    return [
        {"path": p.name, "sha256": _digest(p), "size": p.stat().st_size}
        for p in sorted(folder.iterdir())
        if p.is_file()
    ]


def _side(path: Path, fraction: float, holdout: bool, labelled_only: bool) -> pa.Table:
    table = tables.split(tables.read([path]), fraction, holdout)
    return tables.labelled(table, "label") if labelled_only else table


async def recent_rows(
    windows: Windows, endpoint: str, window_s: int, path: Path, fraction: float,
    *, holdout: bool, labelled_only: bool,
) -> tuple[pa.Table | None, Document]:  # fmt: skip
    """The endpoint's collected rows of the last `window_s` (downloaded to `path`): the
    evaluation holdout, or the rest (what training may see); None if there were none."""
    end = now()
    start = end - timedelta(seconds=window_s)
    window = {"start": start, "end": end}
    if await windows.fetch(endpoint, None, start, end, path) is None:
        return None, window
    table = await asyncio.to_thread(_side, path, fraction, holdout, labelled_only)
    return table, window


class PeerInputs:
    """Materialises a run's declared inputs from the registry and the data collector."""

    def __init__(self, datasets: Datasets, windows: Windows, holdout_fraction: float) -> None:
        self.datasets, self.windows = datasets, windows
        self.holdout_fraction = holdout_fraction

    async def materialize(self, spec: Document, folder: Path) -> Document:
        """Fetch one input into `folder`; what was fetched, with digests."""
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        if spec.get("dataset"):
            record = await self._dataset(spec, folder)
        else:
            record = await self._collected(spec, folder)
        return {"name": spec["name"], **record, "files": await asyncio.to_thread(_files, folder)}

    async def _dataset(self, spec: Document, folder: Path) -> Document:
        info = await self.datasets.describe(spec["dataset"], spec["version"])
        await self.datasets.fetch(spec["dataset"], str(info["version"]), folder)
        return {"dataset": spec["dataset"], "version": info["version"]}

    async def _collected(self, spec: Document, folder: Path) -> Document:
        raw = folder.parent / f".{spec['name']}.raw.parquet"
        table, window = await recent_rows(
            self.windows, spec["endpoint"], spec["window_s"], raw, self.holdout_fraction,
            holdout=False, labelled_only=spec.get("labelled_only", True),
        )  # fmt: skip
        rows = 0
        if table is not None:
            await asyncio.to_thread(tables.write, table, folder / COLLECTED_FILE)
            await asyncio.to_thread(raw.unlink)
            rows = int(table.num_rows)
        return {"endpoint": spec["endpoint"], "window": window, "rows": rows}


def lineage_datasets(records: list[Document]) -> list[str]:
    """`name:version` of the dataset inputs a run used."""
    return [f"{r['dataset']}:{r['version']}" for r in records if r.get("dataset")]

"""Run inputs, fetched before the command starts: registered dataset versions through the
registry, and an endpoint's collected production data through the data collector (its rows
held out for evaluation removed). Each input lands in its own folder; its files' digests are
recorded on the run."""

import asyncio
import hashlib
from datetime import timedelta
from pathlib import Path

from modelops_jobs import tables
from modelops_jobs.domain import now
from modelops_jobs.ports import Document
from modelops_servicekit.peers import CollectorWindows, RegistryDatasets

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


def _training_rows(raw: Path, out: Path, fraction: float, labelled_only: bool) -> int:
    table = tables.split(tables.read([raw]), fraction, holdout=False)
    if labelled_only:
        table = tables.labelled(table, "label")
    tables.write(table, out)
    return int(table.num_rows)


class PeerInputs:
    """Materialises a run's declared inputs from the registry and the data collector."""

    def __init__(self, registry_url: str, collector_url: str, holdout_fraction: float) -> None:
        self.datasets = RegistryDatasets(registry_url)
        self.windows = CollectorWindows(collector_url)
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
        end = now()
        start = end - timedelta(seconds=spec["window_s"])
        raw = folder.parent / f".{spec['name']}.raw.parquet"
        rows = 0
        if await self.windows.fetch(spec["endpoint"], None, start, end, raw) is not None:
            rows = await asyncio.to_thread(
                _training_rows,
                raw,
                folder / COLLECTED_FILE,
                self.holdout_fraction,
                spec.get("labelled_only", True),
            )
            raw.unlink()
        window = {"start": start, "end": end}
        return {"endpoint": spec["endpoint"], "window": window, "rows": rows}


def lineage_datasets(records: list[Document]) -> list[str]:
    """`name:version` of the dataset inputs a run used."""
    return [f"{r['dataset']}:{r['version']}" for r in records if r.get("dataset")]

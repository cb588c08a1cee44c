"""Model versions as local folders for the process target.

A following endpoint's new version is downloaded from the registry into a temporary folder,
given its `modelserver.json`, and only then renamed into place: a crash leaves no half folder
where a replica would look, and a folder that exists is complete (so a redelivery reuses it).
"""

import asyncio
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import structlog

from modelops_deployer.ports import ModelSource
from modelops_servicekit.errors import Invalid

log = structlog.get_logger(__name__)
CONFIG = "modelserver.json"
ONNX_FILE = "model.onnx"
PARTIAL = ".partial-"


def server_config(
    template: dict[str, Any] | None, model_name: str, version: int, paths: list[str]
) -> dict[str, Any]:
    """The version's modelserver.json: the template's (same features, so the same schema and
    columns) with name and version replaced, else the minimal one for a `model.onnx`."""
    if template is not None:
        return {**template, "name": model_name, "version": str(version)}
    if ONNX_FILE in paths:
        return {"name": model_name, "version": str(version), "framework": "onnx",
                "model_file": ONNX_FILE}  # fmt: skip
    raise Invalid(
        f"model {model_name} version {version} has no {ONNX_FILE} and no {CONFIG} to copy: "
        "the process target cannot serve it"
    )


def read_config(folder: Path | str | None) -> dict[str, Any] | None:
    """A folder's modelserver.json, if it has one."""
    path = Path(folder) / CONFIG if folder else None
    if path is None or not path.is_file():
        return None
    try:
        doc: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise Invalid(f"{path} is unreadable: {exc}") from exc
    return doc


def _begin(final: Path, endpoint: str) -> Path | None:
    """A fresh temporary folder next to `final`; None if `final` is complete already."""
    if final.is_dir():
        return None
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f"{PARTIAL}{endpoint}~*"):  # an earlier crash's
        shutil.rmtree(stale, ignore_errors=True)
    partial = final.parent / f"{PARTIAL}{endpoint}~{uuid.uuid4().hex[:8]}"
    partial.mkdir()
    return partial


def _complete(partial: Path, final: Path, config: dict[str, Any]) -> None:
    """Write the server's config, then rename: the folder appears whole or not at all."""
    (partial / CONFIG).write_text(json.dumps(config, indent=2))
    partial.rename(final)


class ModelFolders:
    """`<root>/<model>/<version>/<endpoint>/`: one complete folder per following endpoint
    (each endpoint's live deployment gives its own modelserver.json)."""

    def __init__(self, root: Path, source: ModelSource) -> None:
        self._root = root.resolve()
        self._source = source
        self._lock = asyncio.Lock()

    async def materialise(
        self, model_name: str, version: int, endpoint: str, template_dir: str | None
    ) -> Path:
        """The complete folder of the version for `endpoint`, downloaded if not there yet."""
        final = self._root / model_name / str(version) / endpoint
        async with self._lock:
            partial = await asyncio.to_thread(_begin, final, endpoint)
            if partial is None:
                return final
            try:
                config = await self._download(model_name, version, partial, template_dir)
                await asyncio.to_thread(_complete, partial, final, config)
            finally:
                await asyncio.to_thread(shutil.rmtree, partial, ignore_errors=True)
        log.info("model_version_materialised", model_name=model_name, version=version,
                 folder=str(final))  # fmt: skip
        return final

    async def _download(
        self, model_name: str, version: int, folder: Path, template_dir: str | None
    ) -> dict[str, Any]:
        """Every file of the version into `folder`; returns its modelserver.json."""
        entries = (await self._source.fetch(model_name, version, folder))["files"]
        template = await asyncio.to_thread(read_config, template_dir)
        if template is None:  # the version's own, if it ships one
            template = await asyncio.to_thread(read_config, folder)
        return server_config(template, model_name, version, [str(e["path"]) for e in entries])

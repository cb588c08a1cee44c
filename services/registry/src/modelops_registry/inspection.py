"""Framework detection from a version's files: parse ONNX, scan pickles without loading them.

Nothing here unpickles anything: pickle files are read as an opcode stream (pickletools) to see
which modules they would import, and ONNX files are parsed as protobuf.
"""

import asyncio
import pickletools
import tempfile
import zipfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import structlog

from modelops_contracts.api.registry import FileEntry
from modelops_contracts.types import Framework
from modelops_servicekit.errors import Invalid
from modelops_servicekit.objects import ObjectStore

log = structlog.get_logger(__name__)
Locate = Callable[[FileEntry], Awaitable[str]]
"""The object key of a file's bytes (NotFound if they are not stored)."""

ONNX_TYPES = {
    1: "FP32", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64",
    8: "BYTES", 9: "BOOL", 10: "FP16", 11: "FP64", 12: "UINT32", 13: "UINT64",
}  # fmt: skip
PICKLE_MODULES = (
    ("sklearn", Framework.SKLEARN),
    ("xgboost", Framework.XGBOOST),
    ("lightgbm", Framework.LIGHTGBM),
    ("torch", Framework.PYTORCH),
)
VERSION_MARKERS = {"_sklearn_version": Framework.SKLEARN}


@dataclass(frozen=True)
class Detected:
    """What the files say about the model."""

    framework: Framework | None = None
    framework_version: str | None = None
    inputs: list[dict[str, Any]] | None = None
    outputs: list[dict[str, Any]] | None = None
    opset: int | None = None


def _tensor(value: Any) -> dict[str, Any]:
    tensor = value.type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]
    return {
        "name": value.name,
        "datatype": ONNX_TYPES.get(tensor.elem_type, "BYTES"),
        "shape": dims,
    }


def inspect_onnx(path: Path) -> Detected:
    """Inputs, outputs and opset of an ONNX model (external data is not loaded)."""
    import onnx  # heavy: imported on first use, not at service start

    model = onnx.load_model(str(path), load_external_data=False)
    initializers = {i.name for i in model.graph.initializer}
    inputs = [_tensor(v) for v in model.graph.input if v.name not in initializers]
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    producer = " ".join(p for p in (model.producer_name, model.producer_version) if p)
    return Detected(
        framework=Framework.ONNX,
        framework_version=producer or None,
        inputs=inputs,
        outputs=[_tensor(v) for v in model.graph.output],
        opset=opset,
    )


def scan_pickle(path: Path) -> Detected:
    """The framework a pickle would import, and its recorded version, without unpickling."""
    strings: list[str] = []
    with path.open("rb") as f:
        if f.read(1) != b"\x80":  # not a plain pickle (e.g. a compressed joblib file)
            return Detected()
        f.seek(0)
        try:
            for opcode, arg, _ in pickletools.genops(f):
                if isinstance(arg, str):
                    strings.append(arg)
                if opcode.name == "STOP":
                    break
        except (ValueError, EOFError) as exc:  # truncated or exotic: keep what was seen
            log.info("pickle_scan_incomplete", error=repr(exc))
    return _from_strings(strings)


def _from_strings(strings: Sequence[str]) -> Detected:
    framework = None
    for module, candidate in PICKLE_MODULES:
        if any(s == module or s.startswith(module + ".") for s in strings):
            framework = candidate
            break
    version = None
    for i, s in enumerate(strings[:-1]):
        if s in VERSION_MARKERS and VERSION_MARKERS[s] == framework:
            version = strings[i + 1]
    return Detected(framework=framework, framework_version=version)


def sniff(path: Path) -> Detected:
    """Detection of one local file by its suffix and first bytes."""
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return inspect_onnx(path)
    if suffix in (".pkl", ".pickle", ".joblib", ".sav"):
        return scan_pickle(path)
    if suffix in (".pt", ".pth") and zipfile.is_zipfile(path):
        return Detected(framework=Framework.PYTORCH)
    head = path.read_bytes()[:256] if path.stat().st_size else b""
    if suffix == ".txt" and head.startswith(b"tree\nversion="):
        return Detected(framework=Framework.LIGHTGBM)
    if suffix in (".ubj", ".json", ".model", ".bst") and b"learner" in head:
        return Detected(framework=Framework.XGBOOST)
    return Detected()


INSPECTED_SUFFIXES = frozenset(
    {".onnx", ".pkl", ".pickle", ".joblib", ".sav", ".pt", ".pth", ".txt", ".ubj", ".json"}
    | {".model", ".bst"}
)


def _candidates(files: Sequence[FileEntry], max_bytes: int) -> list[FileEntry]:
    """Model-looking files small enough to inspect, ONNX first."""
    chosen = [
        f
        for f in files
        if PurePosixPath(f.path).suffix.lower() in INSPECTED_SUFFIXES and f.size <= max_bytes
    ]
    return sorted(chosen, key=lambda f: (not f.path.lower().endswith(".onnx"), f.path))[:5]


class BlobInspector:
    """Fetches candidate files from the blob store into a temp dir and sniffs them."""

    def __init__(self, store: ObjectStore, locate: Locate, max_bytes: int) -> None:
        self._store = store
        self._locate = locate
        self._max_bytes = max_bytes

    async def inspect(self, files: Sequence[FileEntry]) -> Detected:
        with tempfile.TemporaryDirectory(prefix="registry-inspect-") as tmp:
            for entry in _candidates(files, self._max_bytes):
                local = Path(tmp) / f"f{PurePosixPath(entry.path).suffix.lower()}"
                await self._store.get_file(await self._locate(entry), local)
                try:
                    detected = await asyncio.to_thread(sniff, local)
                except Exception as exc:  # a file we cannot parse is simply not detected
                    if local.suffix == ".onnx":
                        raise Invalid(f"{entry.path} is not a valid ONNX model: {exc}") from exc
                    log.info("model_file_not_parsed", path=entry.path, error=repr(exc))
                    continue
                if detected.framework is not None:
                    return detected
        return Detected()

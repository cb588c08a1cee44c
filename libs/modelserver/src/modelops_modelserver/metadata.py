"""What the server knows about its model: name, version, files and input/output schema.

Read from `modelserver.json` in the model folder; an ONNX model's schema defaults to what its
graph declares.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from modelops_modelserver.datatypes import OIP_TO_NUMPY

METADATA_FILE = "modelserver.json"


class MetadataError(ValueError):
    """The model folder or its metadata file is unusable."""


@dataclass(frozen=True)
class TensorSpec:
    """One input or output: OIP name, datatype and shape (-1 = any); optional column names."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    columns: tuple[str, ...] = ()
    """Names of the last dimension's entries, for dataframe bodies (`dataframe_split`...)."""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "datatype": self.datatype}
        out["shape"] = list(self.shape)
        if self.columns:
            out["columns"] = list(self.columns)
        return out

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> "TensorSpec":
        datatype = str(raw.get("datatype", "FP32")).upper()
        if datatype not in OIP_TO_NUMPY:
            raise MetadataError(f"unknown datatype {datatype!r} for {raw.get('name')!r}")
        shape = tuple(int(d) for d in raw.get("shape", [-1]))
        columns = tuple(str(c) for c in raw.get("columns", ()))
        if columns and (not shape or shape[-1] not in (-1, len(columns))):
            raise MetadataError(f"{raw.get('name')!r}: {len(columns)} columns for shape {shape}")
        return cls(str(raw["name"]), datatype, shape, columns)


@dataclass(frozen=True)
class Schema:
    """The model's inputs and outputs (empty = not declared, nothing validated)."""

    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "inputs": [s.as_json() for s in self.inputs],
            "outputs": [s.as_json() for s in self.outputs],
        }

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> "Schema":
        raw = raw or {}
        inputs = tuple(TensorSpec.parse(s) for s in raw.get("inputs", ()))
        outputs = tuple(TensorSpec.parse(s) for s in raw.get("outputs", ()))
        return cls(inputs, outputs)


@dataclass(frozen=True)
class ModelMetadata:
    """One model version as the server loads it."""

    folder: Path
    name: str
    version: str
    framework: str = "onnx"
    model_file: str | None = "model.onnx"
    entry_script: str | None = None
    schema: Schema = field(default_factory=Schema)
    script_input: str = "numpy"
    """How score.py's run() receives data: numpy (validated arrays), json (validated lists), raw."""
    sample_input: Any = None

    @property
    def platform(self) -> str:
        return "onnx_onnxv1" if self.entry_script is None else f"python_{self.framework}"

    @property
    def uses_script(self) -> bool:
        return self.entry_script is not None


def load_metadata(folder: Path) -> ModelMetadata:
    """Read `modelserver.json` from a model folder and check that the files it names exist."""
    path = folder / METADATA_FILE
    if not path.is_file():
        raise MetadataError(f"{path} not found")
    try:
        raw = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise MetadataError(f"{path} is not JSON: {exc}") from exc
    meta = ModelMetadata(
        folder=folder,
        name=str(raw["name"]),
        version=str(raw.get("version", "1")),
        framework=str(raw.get("framework", "onnx")),
        model_file=raw.get("model_file", None if raw.get("entry_script") else "model.onnx"),
        entry_script=raw.get("entry_script"),
        schema=Schema.parse(raw.get("schema")),
        script_input=str(raw.get("script_input", "numpy")),
        sample_input=raw.get("sample_input"),
    )
    for name in (meta.model_file, meta.entry_script):
        if name and not (folder / name).is_file():
            raise MetadataError(f"{folder / name} not found")
    if meta.script_input not in ("numpy", "json", "raw"):
        raise MetadataError(f"script_input must be numpy, json or raw, not {meta.script_input!r}")
    return meta

"""The two kinds of model the server runs: ONNX in onnxruntime, anything else via score.py."""

import importlib.util
import inspect
import os
import sys
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from modelops_modelserver.datatypes import ONNX_TO_OIP
from modelops_modelserver.metadata import MetadataError, ModelMetadata, Schema, TensorSpec


class Model(Protocol):
    """A loaded model: its schema and a synchronous or asynchronous predict."""

    schema: Schema
    is_async: bool

    def predict(self, inputs: Any) -> Any: ...


def _spec_from_onnx(arg: Any) -> TensorSpec:
    datatype = ONNX_TO_OIP.get(str(arg.type), "BYTES")
    shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in (arg.shape or []))
    return TensorSpec(str(arg.name), datatype, shape)


class OnnxModel:
    """An ONNX graph in an onnxruntime session, tuned for low latency on few cores."""

    is_async = False

    def __init__(self, meta: ModelMetadata, threads: int = 1) -> None:
        import onnxruntime as ort

        assert meta.model_file is not None
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Spinning threads burn the core the event loop needs; one thread never spins anyway.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        path = str(meta.folder / meta.model_file)
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        graph = Schema(
            tuple(_spec_from_onnx(i) for i in self.session.get_inputs()),
            tuple(_spec_from_onnx(o) for o in self.session.get_outputs()),
        )
        self.schema = _merge(graph, meta.schema)
        self.output_names = [o.name for o in graph.outputs]
        # The C++ binding directly: the Python wrapper re-validates names the codec already
        # checked, which costs as much as a small model's inference.
        self._run = getattr(self.session, "_sess", self.session).run

    def predict(self, inputs: dict[str, np.ndarray[Any, Any]]) -> dict[str, Any]:
        return dict(zip(self.output_names, self._run(self.output_names, inputs, None), strict=True))


def _merge(graph: Schema, declared: Schema) -> Schema:
    """The graph's schema, with what the metadata declares (e.g. column names) on top."""
    by_name = {s.name: s for s in declared.inputs}
    unknown = set(by_name) - {s.name for s in graph.inputs}
    if unknown:
        raise MetadataError(f"schema inputs {sorted(unknown)} are not inputs of the ONNX graph")
    inputs = tuple(by_name.get(s.name, s) for s in graph.inputs)
    outputs = declared.outputs or graph.outputs
    return Schema(inputs, outputs)


class ScriptModel:
    """A user entry script with init() and run(data): the Azure ML contract."""

    def __init__(self, meta: ModelMetadata) -> None:
        assert meta.entry_script is not None
        os.environ.setdefault("AZUREML_MODEL_DIR", str(meta.folder))
        os.environ.setdefault("MODELOPS_MODEL_DIR", str(meta.folder))
        module = _import_script(meta)
        init = getattr(module, "init", None)
        run = getattr(module, "run", None)
        if not callable(run):
            raise MetadataError(f"{meta.entry_script} has no run(data) function")
        if callable(init):
            init()
        self._run: Callable[[Any], Any] = run
        self.is_async = inspect.iscoroutinefunction(run)
        self.schema = meta.schema

    def predict(self, inputs: Any) -> Any:
        return self._run(inputs)


def _import_script(meta: ModelMetadata) -> Any:
    assert meta.entry_script is not None
    path = meta.folder / meta.entry_script
    if str(meta.folder) not in sys.path:
        sys.path.insert(0, str(meta.folder))  # the script may import its neighbours
    spec = importlib.util.spec_from_file_location("score", path)
    if spec is None or spec.loader is None:
        raise MetadataError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["score"] = module
    spec.loader.exec_module(module)
    return module


def load_model(meta: ModelMetadata, onnx_threads: int = 1) -> Model:
    """The model of a folder: its entry script if it has one, else its ONNX file."""
    if meta.uses_script:
        return ScriptModel(meta)
    if not meta.model_file or not meta.model_file.endswith(".onnx"):
        raise MetadataError(f"{meta.model_file!r} is not ONNX and no entry script is given")
    return OnnxModel(meta, onnx_threads)

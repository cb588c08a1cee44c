"""Tiny real models for tests and benchmarks: an ONNX graph and a deliberately slow script."""

import json
from pathlib import Path

import onnx
from onnx import TensorProto, helper


def write_onnx_model(folder: Path, name: str, version: int, scale: float) -> Path:
    """y = x * scale on a [-1, 2] float input, with its model-server metadata."""
    folder.mkdir(parents=True, exist_ok=True)
    factor = helper.make_tensor("k", TensorProto.FLOAT, [1], [scale])
    node = helper.make_node("Mul", ["x", "k"], ["y"])
    graph = helper.make_graph(
        [node], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
        initializer=[factor],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(folder / "model.onnx"))
    meta = {"name": name, "version": str(version), "model_file": "model.onnx"}
    (folder / "modelserver.json").write_text(json.dumps(meta))
    return folder


def write_slow_model(folder: Path, name: str, version: int, delay_ms: int) -> Path:
    """An entry script whose async run() sleeps: saturation without burning CPU."""
    folder.mkdir(parents=True, exist_ok=True)
    script = (
        "import asyncio\n\ndef init():\n    pass\n\n"
        f"async def run(data):\n    await asyncio.sleep({delay_ms / 1000})\n    return [1]\n"
    )
    (folder / "score.py").write_text(script)
    meta = {"name": name, "version": str(version), "entry_script": "score.py",
            "script_input": "raw"}  # fmt: skip
    (folder / "modelserver.json").write_text(json.dumps(meta))
    return folder

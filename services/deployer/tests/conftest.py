"""Fixtures: tiny model folders and a condition poller for the deployer tests."""

import asyncio
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnx
import pytest
from onnx import TensorProto, helper


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_onnx_model(folder: Path, name: str, version: int, scale: float) -> Path:
    """y = x * scale on a [-1, 2] float input: a tiny real ONNX graph."""
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


@pytest.fixture
def onnx_model(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "tiny", version: int = 1, scale: float = 1.0) -> Path:
        return write_onnx_model(tmp_path / f"{name}-{version}-{scale}", name, version, scale)

    return make


@pytest.fixture
def slow_model(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "slow", version: int = 1, delay_ms: int = 100) -> Path:
        return write_slow_model(tmp_path / f"{name}-{version}-{delay_ms}", name, version, delay_ms)

    return make


async def _eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


@pytest.fixture
def eventually() -> Callable[..., Any]:
    """Await a condition, polled every 20 ms, failing after `timeout` seconds."""
    return _eventually

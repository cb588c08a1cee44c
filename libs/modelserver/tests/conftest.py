"""Model folders for the model server's tests: a random forest, an every-datatype echo graph and
an entry script, all made here (no download)."""

import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnx
import pytest
from asgi_lifespan import LifespanManager
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

from modelops_modelserver.app import ModelServerApp
from modelops_modelserver.settings import ServerSettings

IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
ECHO_TYPES = {
    "BOOL": TensorProto.BOOL,
    "UINT8": TensorProto.UINT8,
    "UINT16": TensorProto.UINT16,
    "UINT32": TensorProto.UINT32,
    "UINT64": TensorProto.UINT64,
    "INT8": TensorProto.INT8,
    "INT16": TensorProto.INT16,
    "INT32": TensorProto.INT32,
    "INT64": TensorProto.INT64,
    "FP16": TensorProto.FLOAT16,
    "FP32": TensorProto.FLOAT,
    "FP64": TensorProto.DOUBLE,
    "BYTES": TensorProto.STRING,
}


def write_meta(folder: Path, **meta: Any) -> Path:
    (folder / "modelserver.json").write_text(json.dumps(meta))
    return folder


@pytest.fixture(scope="session")
def iris() -> tuple[np.ndarray[Any, Any], RandomForestClassifier]:
    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    return x, RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y)


@pytest.fixture(scope="session")
def iris_dir(
    tmp_path_factory: pytest.TempPathFactory,
    iris: tuple[np.ndarray[Any, Any], RandomForestClassifier],
) -> Path:
    x, model = iris
    folder = tmp_path_factory.mktemp("iris")
    onx = to_onnx(model, x[:1], options={id(model): {"zipmap": False}}, target_opset=17)
    (folder / "model.onnx").write_bytes(onx.SerializeToString())
    schema = {"inputs": [{"name": "X", "datatype": "FP32", "shape": [-1, 4]}]}
    schema["inputs"][0]["columns"] = IRIS_COLUMNS
    return write_meta(folder, name="iris", version="3", schema=schema)


@pytest.fixture(scope="session")
def echo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ONNX graph with one Identity per OIP datatype: every tensor type round-trips."""
    folder = tmp_path_factory.mktemp("echo")
    inputs, outputs, nodes = [], [], []
    for name, elem in ECHO_TYPES.items():
        low = name.lower()
        inputs.append(helper.make_tensor_value_info(f"in_{low}", elem, [None, 2]))
        outputs.append(helper.make_tensor_value_info(f"out_{low}", elem, [None, 2]))
        nodes.append(helper.make_node("Identity", [f"in_{low}"], [f"out_{low}"]))
    graph = helper.make_graph(nodes, "echo", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(folder / "model.onnx"))
    return write_meta(folder, name="echo", version="1")


SCORE_PY = """
import os, pickle
model = None
calls = 0

def init():
    global model
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.pkl"), "rb") as f:
        model = pickle.load(f)

def run(data):
    global calls
    calls += 1
    if float(data[0][0]) < 0:
        raise RuntimeError("negative sepal length")
    return {"predictions": model.predict(data).tolist()}
"""


@pytest.fixture(scope="session")
def script_dir(
    tmp_path_factory: pytest.TempPathFactory,
    iris: tuple[np.ndarray[Any, Any], RandomForestClassifier],
) -> Path:
    import pickle

    folder = tmp_path_factory.mktemp("script")
    (folder / "model.pkl").write_bytes(pickle.dumps(iris[1]))
    (folder / "score.py").write_text(SCORE_PY)
    schema = {"inputs": [{"name": "data", "datatype": "FP64", "shape": [-1, 4]}]}
    schema["inputs"][0]["columns"] = IRIS_COLUMNS
    return write_meta(
        folder,
        name="iris-script",
        version="1",
        framework="sklearn",
        entry_script="score.py",
        schema=schema,
    )


ClientFactory = Callable[..., Any]


@pytest.fixture
def serve() -> Callable[..., Any]:
    """`async with serve(folder, **settings) as http`: the app in-process, lifespan run."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def run(folder: Path, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        app = ModelServerApp(ServerSettings(model_dir=str(folder), **overrides))
        async with LifespanManager(app):  # type: ignore[arg-type]  # raw ASGI app
            transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # raw ASGI app
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                yield http

    return run


StartServer = Callable[..., tuple[subprocess.Popen[bytes], str]]
"""(model folder, *CLI flags) -> (the server process, its URL once ready)"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(folder: Path, *flags: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable, "-m", "modelops_modelserver", "--model-dir", str(folder)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), *flags]
    log = folder / f"server-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    proc.wait()
    raise AssertionError(log.read_text()[-2000:])


@pytest.fixture
def start_server() -> StartServer:
    """The server as a real process on a free port (the test stops it)."""
    return _start

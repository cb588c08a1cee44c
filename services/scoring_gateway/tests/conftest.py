"""Fixtures: tiny model folders, model server processes, a fake deployer API, the gateway app."""

import asyncio
import hashlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import onnx
import pytest
from aiohttp import web
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


class ModelServers:
    """Model server processes on free ports, stopped after the test."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, model_dir: Path, **settings: Any) -> str:
        port = free_port()
        args = [sys.executable, "-m", "modelops_modelserver", "--model-dir", str(model_dir),
                "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
        for key, value in settings.items():
            args += ["--" + key.replace("_", "-"), str(value)]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/v2/health/ready", timeout=1).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"model server exited with {proc.returncode}")
            time.sleep(0.05)
        raise TimeoutError("model server not ready")

    def stop_all(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def model_servers() -> Iterator[ModelServers]:
    servers = ModelServers()
    yield servers
    servers.stop_all()


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


class FakeDeployer:
    """The two deployer queries the gateway makes, answered from dicts the test fills."""

    def __init__(self) -> None:
        self.routing: dict[str, list[dict[str, Any]]] = {"endpoints": [], "deployments": []}
        self.keys: dict[str, tuple[int, list[str]]] = {}
        self.url = ""
        self.key_fetches = 0

    def set_keys(self, endpoint: str, revision: int, *keys: str) -> None:
        hashes = [hashlib.sha256(k.encode()).hexdigest() for k in keys]
        self.keys[endpoint] = (revision, hashes)

    async def _routing(self, _: web.Request) -> web.Response:
        return web.json_response(self.routing)

    async def _keys(self, request: web.Request) -> web.Response:
        self.key_fetches += 1
        revision, hashes = self.keys.get(request.match_info["name"], (0, []))
        return web.json_response({"keys_revision": revision, "hashes": hashes})


@pytest.fixture
async def fake_deployer() -> AsyncIterator[FakeDeployer]:
    fake = FakeDeployer()
    app = web.Application()
    app.router.add_get("/v1/routing", fake._routing)
    app.router.add_get("/v1/internal/endpoints/{name}/key-hashes", fake._keys)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    fake.url = f"http://127.0.0.1:{port}"
    yield fake
    await runner.cleanup()


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

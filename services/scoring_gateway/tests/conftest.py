"""Fixtures: model server processes, a fake deployer API, the gateway app (tiny model folders
and `eventually` come from the testkit plugin)."""

import hashlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from modelops_testkit.processes import free_port


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

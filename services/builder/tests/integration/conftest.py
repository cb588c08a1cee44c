"""The builder against the real stack: a registry process, the builder in-process, Docker."""

import asyncio
import hashlib
import pickle
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from asgi_lifespan import LifespanManager
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

from modelops_builder.app import create_app
from modelops_builder.settings import BuilderSettings

Iris = tuple[np.ndarray[Any, Any], RandomForestClassifier]


@pytest.fixture(scope="session")
def iris_model() -> Iris:
    x, y = load_iris(return_X_y=True)
    return x.astype(np.float32), RandomForestClassifier(n_estimators=20, random_state=0).fit(x, y)


@pytest.fixture
def registry_url(fleet: Any) -> str:
    (registry,) = fleet.start("registry")
    return str(registry.url)


@pytest.fixture
async def builder(
    service_settings: Callable[..., BuilderSettings], registry_url: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    work = Path.home() / ".cache" / "modelops" / "builder-tests"  # wheels cached across runs
    settings = service_settings(
        BuilderSettings, "builder", registry_url=registry_url, work_dir=work
    )
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://builder", timeout=900
        ) as http:
            yield http


Register = Callable[..., Any]


@pytest.fixture
def register(registry_url: str) -> Register:
    """`await register(name, {path: bytes}, **fields)`: upload blobs, register a version."""

    async def run(name: str, files: dict[str, bytes], **fields: Any) -> dict[str, Any]:
        return await _register(registry_url, name, files, **fields)

    return run


async def _register(
    registry_url: str, name: str, files: dict[str, bytes], **fields: Any
) -> dict[str, Any]:
    entries = []
    async with httpx.AsyncClient(base_url=registry_url, timeout=60) as http:
        for path, data in files.items():
            sha = hashlib.sha256(data).hexdigest()
            put = await http.put(f"/v1/blobs/{sha}", content=data)
            assert put.status_code in (200, 201), put.text
            entries.append({"path": path, "sha256": sha, "size": len(data)})
        resp = await http.post(f"/v1/models/{name}/versions", json={"files": entries, **fields})
        assert resp.status_code == 201, resp.text
        body: dict[str, Any] = resp.json()
        return body


@pytest.fixture
def run_image() -> Any:
    """`url = await run_image(tag)`: the image on a free port (host network), removed after."""
    import socket

    import docker

    client = docker.DockerClient(base_url="unix:///var/run/docker.sock")
    started: list[Any] = []

    async def run(tag: str) -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {"MODELOPS_MODELSERVER_PORT": str(port), "MODELOPS_MODELSERVER_HOST": "127.0.0.1"}
        container = client.containers.run(tag, detach=True, network_mode="host", environment=env)
        started.append(container)
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url, timeout=2) as http:
            for _ in range(120):
                try:
                    if (await http.get("/v2/health/ready")).status_code == 200:
                        return url
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.5)
        raise AssertionError(container.logs().decode()[-3000:])

    yield run
    for container in started:
        container.remove(force=True)
    client.close()


def pickled(model: Any) -> bytes:
    """A model as the registry stores pickles (registered with trusted=true)."""
    return pickle.dumps(model)

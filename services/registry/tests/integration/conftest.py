"""Fixtures of the registry's integration tests: an in-process registry on the real stack."""

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import onnx
import pytest
from asgi_lifespan import LifespanManager
from onnx import TensorProto, helper

from modelops_registry.app import create_app
from modelops_registry.settings import RegistrySettings


@pytest.fixture
def registry_settings(service_settings: Callable[..., Any]) -> RegistrySettings:
    settings: RegistrySettings = service_settings(RegistrySettings, "registry")
    return settings


@pytest.fixture
async def registry(registry_settings: RegistrySettings) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process registry app (lifespan run) and a client calling it as alice."""
    app = create_app(registry_settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        LifespanManager(app, startup_timeout=90, shutdown_timeout=90),
        httpx.AsyncClient(
            transport=transport, base_url="http://t", headers={"modelops-user": "alice"}
        ) as http,
    ):
        yield http


async def upload(http: httpx.AsyncClient, path: str, data: bytes) -> dict[str, Any]:
    """PUT the blob; return its manifest entry."""
    sha = hashlib.sha256(data).hexdigest()
    resp = await http.put(f"/v1/blobs/{sha}", content=data)
    assert resp.status_code in (200, 201), resp.text
    return {"path": path, "sha256": sha, "size": len(data)}


async def download(http: httpx.AsyncClient, url: str) -> bytes:
    """A file the way clients get it: a 307 to a signed store link, followed by a plain client;
    the same bytes must also stream through the registry (`?stream=true`)."""
    redirect = await http.get(url)
    assert redirect.status_code == 307, redirect.text
    async with httpx.AsyncClient() as outside:
        linked = await outside.get(redirect.headers["location"])
    assert linked.status_code == 200, linked.text
    assert hashlib.sha256(linked.content).hexdigest() == redirect.headers["x-content-sha256"]
    streamed = await http.get(url, params={"stream": "true"})
    assert streamed.status_code == 200, streamed.text
    assert streamed.headers["x-content-sha256"] == redirect.headers["x-content-sha256"]
    assert streamed.content == linked.content
    return linked.content


async def register(
    http: httpx.AsyncClient,
    name: str,
    files: dict[str, bytes],
    *,
    headers: dict[str, str] | None = None,
    **body: Any,
) -> httpx.Response:
    """Upload every file, then register them as a version."""
    manifest = [await upload(http, p, d) for p, d in files.items()]
    return await http.post(
        f"/v1/models/{name}/versions", json={"files": manifest, **body}, headers=headers
    )


@pytest.fixture
def download_file(registry: httpx.AsyncClient) -> Callable[[str], Awaitable[bytes]]:
    """`await download_file(url)` -> the file's bytes, checked by link and by stream."""

    async def run(url: str) -> bytes:
        return await download(registry, url)

    return run


@pytest.fixture
def register_model(registry: httpx.AsyncClient) -> Callable[..., Any]:
    """`await register_model(name, {path: bytes}, **body)` -> the registration response."""

    async def run(name: str, files: dict[str, bytes], **kwargs: Any) -> httpx.Response:
        return await register(registry, name, files, **kwargs)

    return run


@pytest.fixture
def onnx_bytes() -> bytes:
    return onnx_model_bytes()


def onnx_model_bytes() -> bytes:
    """A tiny valid ONNX model: y = x + 1 over float[N, 3]."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    node = helper.make_node("Add", ["x", "one"], ["y"])
    graph = helper.make_graph([node], "add_one", [x], [y], initializer=[one])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    data: bytes = model.SerializeToString()
    return data

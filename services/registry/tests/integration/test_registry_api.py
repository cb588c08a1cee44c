"""The registry's HTTP API on the real stack: register, read, search, change, download."""

import asyncio
import hashlib
import io
import zipfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from modelops_contracts.events import ModelAliasSet, ModelVersionRegistered, ModelVersionUpdated
from modelops_testkit.probe import BusProbe

pytestmark = pytest.mark.integration
Register = Callable[..., Awaitable[httpx.Response]]
Download = Callable[[str], Awaitable[bytes]]


async def test_an_onnx_model_is_detected_registered_and_announced(
    registry: httpx.AsyncClient, register_model: Register, onnx_bytes: bytes, bus_probe: BusProbe
) -> None:
    resp = await register_model("churn", {"model.onnx": onnx_bytes}, tags={"a": "1"})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert (body["version"], body["framework"], body["opset"]) == (1, "onnx", 17)
    assert body["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 3]}]
    assert body["created_by"] == "alice"
    assert body["artifact_uri"].endswith("/models/churn/1/")
    event = await bus_probe.expect(ModelVersionRegistered, lambda e: e.model_name == "churn")
    assert (event.version, event.content_digest) == (1, body["content_digest"])


async def test_a_folder_model_round_trips_byte_identical_as_files_and_as_zip(
    registry: httpx.AsyncClient, register_model: Register, download_file: Download
) -> None:
    files = {
        "model.bin": b"\x08\x07" + bytes(range(256)) * 4000,
        "sub/vocab.txt": "wörter\n".encode() * 1000,
        "sub/deeper/empty.bin": b"",
    }
    resp = await register_model("folder", files, framework="custom")
    assert resp.status_code == 201, resp.text
    version = resp.json()
    assert [f["path"] for f in version["files"]] == sorted(files)
    for path, data in files.items():
        url = f"/v1/models/folder/versions/1/files/{path}"
        assert await download_file(url) == data
        digest = (await registry.get(url)).headers["x-content-sha256"]
        assert digest == hashlib.sha256(data).hexdigest()
    archive = await registry.get("/v1/models/folder/versions/latest/download?format=zip")
    assert archive.status_code == 200
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zf:
        assert {n: zf.read(n) for n in zf.namelist()} == files


async def test_search_filters_by_tags_framework_alias_and_pages_newest_first(
    registry: httpx.AsyncClient, register_model: Register, onnx_bytes: bytes
) -> None:
    for i in range(3):
        tags = {"area": "mnist", "i": str(i)}
        assert (
            await register_model("digits", {"m.onnx": onnx_bytes}, tags=tags)
        ).status_code == 201
    other = await register_model("other", {"x.bin": b"x"}, tags={"area": "nlp"})
    assert other.status_code == 201
    await registry.put("/v1/models/digits/aliases/champion", json={"version": 2})

    mnist = (await registry.get("/v1/models", params={"tag": "area=mnist"})).json()
    assert [(v["model_name"], v["version"]) for v in mnist["items"]] == [
        ("digits", 3),
        ("digits", 2),
        ("digits", 1),
    ]
    both = await registry.get("/v1/models", params=[("tag", "area=mnist"), ("tag", "i=1")])
    assert [v["version"] for v in both.json()["items"]] == [2]
    onnx = (await registry.get("/v1/models", params={"framework": "onnx"})).json()
    assert onnx["total"] == 3
    champion = (await registry.get("/v1/models", params={"alias": "champion"})).json()
    assert [(v["version"], v["aliases"]) for v in champion["items"]] == [(2, ["champion"])]
    page = (await registry.get("/v1/models/digits/versions", params={"limit": 2, "page": 2})).json()
    assert ([v["version"] for v in page["items"]], page["total"]) == ([1], 3)
    by_alias = await registry.get("/v1/models/digits/versions/@champion")
    assert by_alias.json()["version"] == 2
    summary = (await registry.get("/v1/models/digits")).json()
    assert summary == {
        "name": "digits",
        "versions": 3,
        "latest_version": 3,
        "aliases": {"champion": 2},
    }


async def test_tags_change_properties_are_add_only_and_archive_hides(
    registry: httpx.AsyncClient, register_model: Register, bus_probe: BusProbe
) -> None:
    await register_model(
        "m", {"a.bin": b"a"}, tags={"keep": "1", "drop": "2"}, properties={"p": "1"}
    )
    await register_model("m", {"a.bin": b"b"})
    patch = {"set_tags": {"new": "3"}, "remove_tags": ["drop"], "add_properties": {"q": "2"}}
    resp = await registry.patch("/v1/models/m/versions/1", json=patch)
    assert resp.status_code == 200, resp.text
    assert resp.json()["tags"] == {"keep": "1", "new": "3"}
    assert resp.json()["properties"] == {"p": "1", "q": "2"}
    event = await bus_probe.expect(ModelVersionUpdated)
    assert (event.tags, event.properties_added, event.updated_by) == (
        {"keep": "1", "new": "3"},
        {"q": "2"},
        "alice",
    )
    refused = await registry.patch("/v1/models/m/versions/1", json={"add_properties": {"p": "9"}})
    assert refused.status_code == 400
    assert "add-only" in refused.json()["detail"]

    archived = await registry.patch("/v1/models/m/versions/2", json={"archived": True})
    assert archived.json()["archived"] is True
    listed = (await registry.get("/v1/models/m/versions")).json()
    assert [v["version"] for v in listed["items"]] == [1]
    with_archived = await registry.get("/v1/models/m/versions", params={"archived": True})
    assert [v["version"] for v in with_archived.json()["items"]] == [2, 1]
    assert (await registry.get("/v1/models/m/versions/latest")).json()["version"] == 1
    assert (await registry.get("/v1/models/m/versions/2")).status_code == 200  # still there


async def test_an_alias_moves_and_remembers_where_it_pointed(
    registry: httpx.AsyncClient, register_model: Register, bus_probe: BusProbe
) -> None:
    for data in (b"1", b"2"):
        await register_model("a", {"m.bin": data})
    first = await registry.put("/v1/models/a/aliases/champion", json={"version": 1})
    assert first.status_code == 200, first.text
    between = datetime.now(UTC)
    second = await registry.put("/v1/models/a/aliases/champion", json={"version": "latest"})
    assert second.json()["version"] == 2
    moved = await bus_probe.expect(ModelAliasSet, lambda e: e.version == 2)
    assert (moved.previous_version, moved.set_by) == (1, "alice")

    now = await registry.get("/v1/models/a/aliases/champion")
    assert now.json()["version"] == 2
    then = await registry.get("/v1/models/a/aliases/champion", params={"at": between.isoformat()})
    assert then.json()["version"] == 1
    before = await registry.get(
        "/v1/models/a/aliases/champion", params={"at": "2000-01-01T00:00:00Z"}
    )
    assert before.status_code == 404


async def test_an_idempotency_key_retry_returns_the_same_version(
    register_model: Register,
) -> None:
    key = {"Idempotency-Key": "retry-1"}
    first = await register_model("idem", {"m.bin": b"m"}, headers=key)
    again = await register_model("idem", {"m.bin": b"m"}, headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["version"] == first.json()["version"] == 1
    other = await register_model("idem", {"m.bin": b"different"}, headers=key)
    assert other.status_code == 409
    fresh = await register_model("idem", {"m.bin": b"m"}, headers={"Idempotency-Key": "retry-2"})
    assert fresh.json()["version"] == 2


async def test_the_audit_log_says_who_did_what_from_which_event(
    registry: httpx.AsyncClient, register_model: Register, bus_probe: BusProbe
) -> None:
    await register_model("audited", {"m.bin": b"m"})
    await registry.put("/v1/models/audited/aliases/prod", json={"version": 1})
    registered = await bus_probe.expect(ModelVersionRegistered)
    entries: list[Any] = []
    for _ in range(100):
        entries = (await registry.get("/v1/models/audited/audit")).json()["items"]
        if len(entries) == 2:
            break
        await asyncio.sleep(0.1)
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("model_alias.set.v1", "alice"),
        ("model_version.registered.v1", "alice"),
    ]
    assert entries[1]["event_id"] == str(registered.event_id)
    assert entries[1]["event"]["subject"] == "models/audited/versions/1"

"""Malformed requests get a clear 4xx problem+json and leave no half-registered version."""

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

pytestmark = pytest.mark.integration
Register = Callable[..., Awaitable[httpx.Response]]
SHA_OF_NOTHING_UPLOADED = hashlib.sha256(b"never uploaded").hexdigest()


def problem(resp: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = resp.json()
    for word in words:
        assert word in body["detail"], body
    return body


@pytest.mark.parametrize(
    ("name", "files", "extra", "words"),
    [
        (
            "ok",
            [{"path": "m.bin", "sha256": SHA_OF_NOTHING_UPLOADED, "size": 3}],
            {},
            ["not uploaded"],
        ),
        ("ok", [], {}, ["no files", "empty folder"]),
        ("Bad Name!", None, {}, ["invalid model name"]),
        ("ok", None, {"tags": {"bad key": "v"}}, ["invalid tag key"]),
        ("ok", [{"path": "../escape", "sha256": SHA_OF_NOTHING_UPLOADED, "size": 1}], {}, ["'..'"]),
        ("ok", "pickle", {}, ["trusted=true"]),
    ],
)
async def test_a_bad_registration_is_refused_and_leaves_nothing(
    registry: httpx.AsyncClient,
    register_model: Register,
    mongo_db: AsyncDatabase[dict[str, Any]],
    registry_settings: Any,
    name: str,
    files: Any,
    extra: dict[str, Any],
    words: list[str],
) -> None:
    if files is None or files == "pickle":
        path = "model.pkl" if files == "pickle" else "m.bin"
        resp = await register_model(name, {path: b"\x80\x04N."}, **extra)
    else:
        resp = await registry.post(f"/v1/models/{name}/versions", json={"files": files, **extra})
    problem(resp, 400, *words)
    db = mongo_db.client[registry_settings.mongo.database]
    assert await db.model_versions.count_documents({}) == 0
    good = await register_model("ok", {"m.bin": b"fine"})
    assert good.json()["version"] == 1  # a refused registration consumed no number


async def test_unknown_versions_aliases_and_models_are_404(
    registry: httpx.AsyncClient, register_model: Register
) -> None:
    await register_model("known", {"m.bin": b"m"})
    problem(await registry.get("/v1/models/known/versions/7"), 404, "no version 7")
    problem(await registry.get("/v1/models/known/versions/@nope"), 404, "no alias 'nope'")
    problem(await registry.get("/v1/models/unknown/versions/latest"), 404, "unknown")
    problem(await registry.get("/v1/models/known/versions/1/files/x.bin"), 404, "no file")
    problem(
        await registry.put("/v1/models/known/aliases/c", json={"version": 9}), 404, "no version 9"
    )


async def test_bad_tag_syntax_in_a_search_or_a_version_zero_is_400(
    registry: httpx.AsyncClient,
) -> None:
    problem(await registry.get("/v1/models", params={"tag": "no-equals"}), 400, "key=value")
    problem(await registry.get("/v1/models/m/versions/0"), 400, "versions start at 1")
    resp = await registry.post("/v1/models/m/versions", json={"files": "nope"})
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"


async def test_an_upload_that_does_not_match_its_digest_is_refused_and_not_stored(
    registry: httpx.AsyncClient,
) -> None:
    claimed = hashlib.sha256(b"the real bytes").hexdigest()
    problem(await registry.put(f"/v1/blobs/{claimed}", content=b"other bytes"), 400, "sha256")
    assert (await registry.head(f"/v1/blobs/{claimed}")).status_code == 404
    problem(await registry.put("/v1/blobs/not-a-digest", content=b"x"), 400, "invalid sha256")

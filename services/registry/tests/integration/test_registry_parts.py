"""Large files in parts, on a registry process and the real store: the SDK uploads the parts
straight into the store while it hashes the file, the store refuses a part that differs from
its digest, the registry records the block digest the store verified and the file's BLAKE3,
and downloads check the BLAKE3 (or, for an entry without one, the block digest)."""

import base64
import hashlib
import io
import os
from pathlib import Path
from typing import cast

import blake3
import httpx
import pytest

from modelops_client.http import ModelOpsClientError
from modelops_client.registry import RegistryClient
from modelops_servicekit.objects import MinioObjectStore
from modelops_servicekit.settings import ObjectStoreSettings
from modelops_testkit.processes import ServiceFleet, free_port

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
PART = 16 * MiB
SIZE = 2 * PART + 5 * MiB + 7  # three parts, the last one short and odd


def composite(data: bytes, part: int = PART) -> str:
    digests = [hashlib.sha256(data[i : i + part]).digest() for i in range(0, len(data), part)]
    return hashlib.sha256(b"".join(digests)).hexdigest()


@pytest.fixture(scope="module")
def data() -> bytes:
    return os.urandom(SIZE)


def upload_in_parts(http: httpx.Client, data: bytes, b3: str | None) -> dict[str, object]:
    """Upload by hand, naming `b3` as the file's BLAKE3 (or none, as older clients do);
    returns the manifest entry the registry answers, with `complete`: where and what was
    posted to complete the upload."""
    started = http.post("/v1/blobs/uploads", json={"size": len(data)}).json()
    parts = []
    for number, link in enumerate(started["parts"], start=1):
        chunk = data[(number - 1) * PART : number * PART]
        digest = hashlib.sha256(chunk).digest()
        header = {"x-amz-checksum-sha256": base64.b64encode(digest).decode()}
        put = httpx.put(link, content=chunk, headers=header)
        assert put.status_code == 200, put.text
        parts.append({"number": number, "etag": put.headers["etag"], "sha256": digest.hex()})
    body = {
        "upload_id": started["upload_id"],
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "part_size": PART,
        "parts": parts,
        **({"blake3": b3} if b3 else {}),
    }
    path = f"/v1/blobs/uploads/{started['upload']}/complete"
    done = http.post(path, json=body)
    assert done.status_code == 200, done.text
    entry: dict[str, object] = done.json()
    return {**entry, "complete": (path, body)}


def manifest_entry(answer: dict[str, object], path: str) -> dict[str, object]:
    return {k: v for k, v in answer.items() if k not in ("existed", "complete")} | {"path": path}


@pytest.mark.parametrize(
    ("env", "in_parts"),
    [
        pytest.param({}, True, id="in-parts"),
        pytest.param(
            {"MODELOPS_OBJECTS__PUBLIC_URL": f"http://127.0.0.1:{free_port()}"},
            False,
            id="store-unreachable-uploads-whole",
        ),
        pytest.param({"MODELOPS_STORE_LINKS": "false"}, False, id="links-off-uploads-whole"),
    ],
)
def test_a_large_file_round_trips_byte_identical(
    fleet: ServiceFleet, tmp_path: Path, data: bytes, env: dict[str, str], in_parts: bool
) -> None:
    fleet.extra_env.update(env)
    (registry,) = fleet.start("registry")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.bin").write_bytes(data)
    (tmp_path / "model" / "config.json").write_bytes(b"{}")
    with RegistryClient(base_url=registry.url) as sdk:
        sdk.parts_from = 8 * MiB
        info = sdk.register_model("large", tmp_path / "model")
        weights = {f.path: f for f in info.files}["weights.bin"]
        assert weights.sha256 == hashlib.sha256(data).hexdigest()
        assert weights.size == SIZE
        if in_parts:
            assert weights.blocks is not None
            assert weights.blocks.part_size == PART
            assert weights.blocks.sha256 == composite(data)  # what the store computed
            assert weights.blake3 == blake3.blake3(data).hexdigest()  # what b3sum prints
        else:
            assert weights.blocks is None
            assert weights.blake3 is None
        assert {f.path: f.blocks for f in info.files}["config.json"] is None  # small: whole
        out = sdk.download_model("large:1", tmp_path / "out")
        archive = sdk.download_model("large:1", tmp_path / "zip", as_zip=True)
    assert (out / "weights.bin").read_bytes() == data
    assert (out / "config.json").read_bytes() == b"{}"
    assert not list(out.glob("*.partial"))
    assert archive.stat().st_size > SIZE  # checked member by member against the manifest


def test_the_store_refuses_a_part_that_differs_from_its_digest(fleet: ServiceFleet) -> None:
    (registry,) = fleet.start("registry")
    part = os.urandom(5 * MiB)
    digest = hashlib.sha256(part).digest()
    with httpx.Client(base_url=registry.url, timeout=60) as http:
        started = http.post("/v1/blobs/uploads", json={"size": len(part)})
        assert started.status_code == 201, started.text
        body = started.json()
        assert body["part_size"] == PART
        assert len(body["parts"]) == 1
        wrong = {"x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(b"x").digest()).decode()}
        assert httpx.put(body["parts"][0], content=part, headers=wrong).status_code == 400
        right = {"x-amz-checksum-sha256": base64.b64encode(digest).decode()}
        put = httpx.put(body["parts"][0], content=part, headers=right)
        assert put.status_code == 200, put.text
        etag = put.headers["etag"].strip('"')
        complete = {
            "upload_id": body["upload_id"],
            "sha256": hashlib.sha256(part).hexdigest(),
            "size": len(part),
            "part_size": PART,
            "parts": [{"number": 1, "etag": etag, "sha256": hashlib.sha256(b"y").hexdigest()}],
        }
        path = f"/v1/blobs/uploads/{body['upload']}/complete"
        refused = http.post(path, json=complete)  # names a digest the part does not have
        assert refused.status_code == 400, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert "refused to join" in refused.json()["detail"]
        gap = {**complete, "parts": [{**complete["parts"][0], "number": 2}]}
        assert "parts 1..1 in order" in http.post(path, json=gap).json()["detail"]
        complete["parts"][0]["sha256"] = digest.hex()
        done = http.post(path, json=complete)
        assert done.status_code == 200, done.text
        again = http.post(path, json=complete)  # a client retrying after a timeout
        assert again.json() == done.json()
        assert http.post("/v1/blobs/uploads", json={"size": 0}).status_code == 422
        assert http.post("/v1/blobs/uploads/nope/complete", json=complete).status_code == 400


def test_the_same_bytes_are_stored_once_and_forged_blocks_are_refused(
    fleet: ServiceFleet, tmp_path: Path, object_settings: ObjectStoreSettings, namespace: str
) -> None:
    (registry,) = fleet.start("registry")
    data = os.urandom(6 * MiB)
    (tmp_path / "w.bin").write_bytes(data)
    store = MinioObjectStore(object_settings, f"{namespace}-registry").client
    with RegistryClient(base_url=registry.url) as sdk:
        sdk.parts_from = 1
        first = sdk.register_model("once", tmp_path / "w.bin").files[0]
        second = sdk.register_model("twice", tmp_path / "w.bin").files[0]
        assert first == second
        objects = list(store.list_objects(f"{namespace}-registry", "blobs/parts/", recursive=True))
        assert len(objects) == 1  # the second upload's object was dropped
        assert first.blocks is not None
        forged = first.model_dump(mode="json")
        forged["blocks"]["sha256"] = "0" * 64
        with httpx.Client(base_url=registry.url) as http:
            refused = http.post("/v1/models/forged/versions", json={"files": [forged]})
            assert refused.status_code == 400, refused.text
            assert "not uploaded" in refused.json()["detail"]
            unclaimed = {**first.model_dump(mode="json"), "blake3": "1" * 64}
            refused = http.post("/v1/models/forged/versions", json={"files": [unclaimed]})
            assert refused.status_code == 400, refused.text
            assert "not uploaded" in refused.json()["detail"]
            loose = {
                "path": "w.bin",
                "sha256": first.sha256,
                "size": first.size,
                "blake3": "1" * 64,
            }
            refused = http.post("/v1/models/forged/versions", json={"files": [loose]})
            assert refused.status_code == 422, refused.text
            assert "only for a file uploaded in parts" in refused.text


def test_a_wrong_blake3_claimed_for_the_same_bytes_spoils_only_its_own_versions(
    fleet: ServiceFleet, tmp_path: Path
) -> None:
    (registry,) = fleet.start("registry")
    data = os.urandom(PART + 2 * MiB)
    (tmp_path / "w.bin").write_bytes(data)
    with RegistryClient(base_url=registry.url) as sdk, httpx.Client(base_url=registry.url) as http:
        sdk.parts_from = 1
        honest = sdk.register_model("honest", tmp_path / "w.bin").files[0]
        lie = upload_in_parts(http, data, "2" * 64)  # the same bytes, a BLAKE3 they lack
        assert lie["existed"] is False  # an entry of its own: the honest one is untouched
        made = http.post("/v1/models/liar/versions", json={"files": [manifest_entry(lie, "w")]})
        assert made.status_code == 201, made.text
        assert (sdk.download_model("honest:1", tmp_path / "h") / "w.bin").read_bytes() == data
        assert honest.blake3 == blake3.blake3(data).hexdigest()
        with pytest.raises(ModelOpsClientError, match="downloaded blake3"):
            sdk.download_model("liar:1", tmp_path / "l")


def test_completing_an_upload_again_with_other_claims_keeps_the_bytes_an_entry_holds(
    fleet: ServiceFleet, tmp_path: Path
) -> None:
    (registry,) = fleet.start("registry")
    data = os.urandom(PART + 2 * MiB)
    with RegistryClient(base_url=registry.url) as sdk, httpx.Client(base_url=registry.url) as http:
        first = upload_in_parts(http, data, blake3.blake3(data).hexdigest())
        files = [manifest_entry(first, "w")]
        assert http.post("/v1/models/kept/versions", json={"files": files}).status_code == 201
        upload_in_parts(http, data, "2" * 64)  # an entry of the same bytes under another claim
        path, body = cast(tuple[str, dict[str, object]], first["complete"])
        again = http.post(path, json={**body, "blake3": "2" * 64})  # now names that entry
        assert again.status_code == 200, again.text
        assert again.json()["existed"] is True
        shorter = http.post(path, json={**body, "size": len(data) - 1})
        assert shorter.status_code == 400, shorter.text
        assert "parts hold" in shorter.json()["detail"]
        out = sdk.download_model("kept:1", tmp_path / "out")  # its bytes were not deleted
    assert (out / "w").read_bytes() == data


@pytest.mark.parametrize("with_blake3", [True, False], ids=["blake3", "older-client-blocks"])
def test_a_tampered_block_fails_the_download_and_leaves_no_file(
    fleet: ServiceFleet,
    tmp_path: Path,
    object_settings: ObjectStoreSettings,
    namespace: str,
    with_blake3: bool,
) -> None:
    (registry,) = fleet.start("registry")
    data = os.urandom(PART + 3 * MiB)
    bucket = f"{namespace}-registry"
    store = MinioObjectStore(object_settings, bucket).client
    with RegistryClient(base_url=registry.url) as sdk, httpx.Client(base_url=registry.url) as http:
        b3 = blake3.blake3(data).hexdigest() if with_blake3 else None
        entry = manifest_entry(upload_in_parts(http, data, b3), "w")
        made = http.post("/v1/models/tampered/versions", json={"files": [entry]})
        assert made.status_code == 201, made.text
        assert (sdk.download_model("tampered:1", tmp_path / "ok") / "w").read_bytes() == data
        (obj,) = store.list_objects(bucket, "blobs/parts/", recursive=True)
        forged = data[:-1] + bytes([data[-1] ^ 1])  # one bit in the last block
        store.put_object(bucket, str(obj.object_name), io.BytesIO(forged), len(forged))
        kind = "blake3" if with_blake3 else "block digest"
        with pytest.raises(ModelOpsClientError, match=f"downloaded {kind}"):
            sdk.download_model("tampered:1", tmp_path / "out")
    assert not list((tmp_path / "out").iterdir())

"""Large files in parts, on a registry process and the real store: the SDK uploads the parts
straight into the store while it hashes the file, the store refuses a part that differs from
its digest, the registry records the block digest the store verified, and downloads check it
block by block on several threads."""

import base64
import hashlib
import io
import os
from pathlib import Path

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
        else:
            assert weights.blocks is None
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


def test_a_tampered_block_fails_the_download_and_leaves_no_file(
    fleet: ServiceFleet, tmp_path: Path, object_settings: ObjectStoreSettings, namespace: str
) -> None:
    (registry,) = fleet.start("registry")
    data = os.urandom(PART + 3 * MiB)
    (tmp_path / "w.bin").write_bytes(data)
    bucket = f"{namespace}-registry"
    store = MinioObjectStore(object_settings, bucket).client
    with RegistryClient(base_url=registry.url) as sdk:
        sdk.parts_from = 1
        sdk.register_model("tampered", tmp_path / "w.bin")
        (obj,) = store.list_objects(bucket, "blobs/parts/", recursive=True)
        forged = data[:-1] + bytes([data[-1] ^ 1])  # one bit in the last block
        store.put_object(bucket, str(obj.object_name), io.BytesIO(forged), len(forged))
        with pytest.raises(ModelOpsClientError, match="downloaded block digest"):
            sdk.download_model("tampered:1", tmp_path / "out")
    assert not list((tmp_path / "out").iterdir())

"""Signed store links from a registry process: SDK uploads and downloads go straight to the
store, through the registry when the store is out of reach or links are off, always verified."""

import hashlib
import io
import os
import time
from pathlib import Path

import httpx
import pytest

from modelops_client.http import ModelOpsClientError
from modelops_client.registry import RegistryClient
from modelops_client.transfer import Silent, Verifier
from modelops_servicekit.objects import MinioObjectStore, blob_key
from modelops_servicekit.s3direct import checksum_header
from modelops_servicekit.settings import ObjectStoreSettings
from modelops_testkit.processes import ServiceFleet, free_port

pytestmark = pytest.mark.integration

SIZE = 9 * 1024 * 1024 + 7  # more than two read chunks, not a multiple of one


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({}, id="by-link"),
        pytest.param(
            {"MODELOPS_OBJECTS__PUBLIC_URL": f"http://127.0.0.1:{free_port()}"},
            id="store-unreachable-falls-back-to-streaming",
        ),
        pytest.param({"MODELOPS_STORE_LINKS": "false"}, id="links-off"),
    ],
)
def test_the_sdk_downloads_a_model_byte_identical(
    fleet: ServiceFleet, tmp_path: Path, env: dict[str, str]
) -> None:
    fleet.extra_env.update(env)
    (registry,) = fleet.start("registry")
    data = os.urandom(SIZE)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.bin").write_bytes(data)
    with RegistryClient(base_url=registry.url) as sdk:
        sdk.register_model("big", tmp_path / "model")
        out = sdk.download_model("big:1", tmp_path / "out")
        listing = sdk.http.get("/v1/models/big/versions/1/files").json()
    assert (out / "weights.bin").read_bytes() == data
    assert not list(out.glob("*.partial"))
    links_off = env.get("MODELOPS_STORE_LINKS") == "false"
    assert (listing["files"][0]["url"] is None) == links_off  # then through the registry
    assert (listing["expires_at"] is None) == links_off


def test_one_call_lists_a_versions_files_with_links_and_a_stale_link_is_signed_again(
    fleet: ServiceFleet, tmp_path: Path
) -> None:
    fleet.extra_env["MODELOPS_STORE_LINK_TTL_S"] = "3"  # X-Amz-Date counts whole seconds
    (registry,) = fleet.start("registry")
    (tmp_path / "model" / "sub").mkdir(parents=True)
    (tmp_path / "model" / "a.bin").write_bytes(b"a" * 1000)
    (tmp_path / "model" / "sub" / "b.txt").write_bytes(b"b" * 10)
    with RegistryClient(base_url=registry.url) as sdk, httpx.Client(base_url=registry.url) as http:
        info = sdk.register_model("listed", tmp_path / "model")
        sdk.set_alias("listed", "champion", 1)
        for ref in ("1", "latest", "@champion"):
            listing = http.get(f"/v1/models/listed/versions/{ref}/files")
            assert listing.status_code == 200, listing.text
            body = listing.json()
            assert (body["name"], body["version"]) == ("listed", 1)
            files = {f["path"]: f for f in body["files"]}
            assert {p: (f["sha256"], f["size"]) for p, f in files.items()} == {
                f.path: (f.sha256, f.size) for f in info.files
            }
            assert httpx.get(files["sub/b.txt"]["url"]).content == b"b" * 10  # straight from MinIO
        missing = http.get("/v1/models/listed/versions/7/files")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert "no version 7" in missing.json()["detail"]
        stale = files["a.bin"]["url"]
        time.sleep(4.1)  # the link has expired: the store refuses it
        assert httpx.get(stale).status_code == 403
        entry = next(f for f in info.files if f.path == "a.bin")
        target = tmp_path / "out" / "a.bin"
        path = "/v1/models/listed/versions/1/files/a.bin"
        sdk.transfers.fetch(path, {}, target, "a.bin", 1000, Silent(), Verifier(entry), stale)
    assert target.read_bytes() == b"a" * 1000  # by a fresh link the registry signed


def test_a_tampered_blob_is_refused_and_leaves_no_file(
    fleet: ServiceFleet, tmp_path: Path, object_settings: ObjectStoreSettings, namespace: str
) -> None:
    (registry,) = fleet.start("registry")
    (tmp_path / "m.bin").write_bytes(b"the real weights")
    store = MinioObjectStore(object_settings, f"{namespace}-registry").client
    with RegistryClient(base_url=registry.url) as sdk:
        info = sdk.register_model("tampered", tmp_path / "m.bin")
        forged = b"other weights!!!"
        key = blob_key(info.files[0].sha256)
        store.put_object(f"{namespace}-registry", key, io.BytesIO(forged), len(forged))
        with pytest.raises(ModelOpsClientError, match="downloaded sha256"):
            sdk.download_model("tampered:1", tmp_path / "out")
    assert not list((tmp_path / "out").iterdir())


def test_an_upload_link_accepts_only_the_bytes_of_its_digest(fleet: ServiceFleet) -> None:
    (registry,) = fleet.start("registry")
    real, forged = b"the weights we announce", b"weights nobody announced"
    sha = hashlib.sha256(real).hexdigest()
    with httpx.Client(base_url=registry.url) as http:
        link = http.post(f"/v1/blobs/{sha}/uploads")
        assert link.status_code == 201, link.text
        url, headers = link.json()["url"], link.json()["headers"]
        refused = httpx.put(url, content=forged, headers=headers)  # the announced checksum
        assert refused.status_code == 400, refused.text
        own = {"x-amz-checksum-sha256": checksum_header(hashlib.sha256(forged).hexdigest())}
        assert httpx.put(url, content=forged, headers=own).status_code == 200  # its own checksum
        manifest = {"files": [{"path": "m.bin", "sha256": sha, "size": len(forged)}]}
        registered = http.post("/v1/models/forged/versions", json=manifest)
        assert registered.status_code == 400, registered.text
        assert "not " + sha in registered.json()["detail"]
        assert httpx.put(url, content=real, headers=headers).status_code == 200  # the real one
        assert http.post(f"/v1/blobs/{sha}/uploads").json()["existed"] is True
        manifest["files"][0]["size"] = len(real)
        assert http.post("/v1/models/forged/versions", json=manifest).status_code == 201

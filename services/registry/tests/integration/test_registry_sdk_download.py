"""SDK downloads from a registry process: by signed store link, through the registry when the
store is out of reach or links are off, and always verified against the manifest."""

import io
import os
from pathlib import Path

import pytest

from modelops_client.http import ModelOpsClientError
from modelops_client.registry import RegistryClient
from modelops_servicekit.objects import MinioObjectStore, blob_key
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
        pytest.param({"MODELOPS_DOWNLOAD_LINKS": "false"}, id="links-off"),
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
    assert (out / "weights.bin").read_bytes() == data
    assert not list(out.glob("*.partial"))


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

"""Pure parts of alias-follow: rollout policies, which events flag a rollout, the new version's
modelserver.json, and materialising a version's folder from a recording model source."""

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import typer

from modelops_client.cli.endpoint import follow_rollout
from modelops_deployer import domain, handlers
from modelops_deployer.model_folders import ModelFolders, server_config
from modelops_servicekit.errors import Invalid, Unavailable
from modelops_servicekit.peers import inside

TARGET = {"_id": "ep-v2", "model_name": "churn", "version": 2}


def test_steps_rise_and_end_at_100() -> None:
    assert domain.check_steps([10, 50, 100]) == [10, 50, 100]
    assert domain.check_steps([100]) == [100]
    for bad in ([], [50], [50, 10, 100], [10, 50, 90], [-10, 100]):
        with pytest.raises(Invalid):
            domain.check_steps(bad)


def test_a_follow_policy_is_checked_like_a_started_rollout() -> None:
    policy = {"steps": [20, 100], "bake_s": 5.0, "guards": {"max_p99_ms": 200.0}}
    assert handlers.follow_policy("churn@champion", policy) == policy
    assert handlers.follow_policy("churn@champion", None) is None  # the default applies
    assert handlers.follow_policy(None, None) is None
    with pytest.raises(Invalid):
        handlers.follow_policy("churn@champion", {**policy, "steps": [50, 20]})
    with pytest.raises(Invalid):  # a policy with nothing to follow
        handlers.follow_policy(None, policy)
    with pytest.raises(Invalid):
        handlers.follow_policy("churn", None)
    assert domain.parse_follow("churn@champion") == ("churn", "champion")


def test_only_an_event_naming_the_target_version_speaks_against_a_rollout() -> None:
    assert domain.is_evidence_against(TARGET, "churn", 2)
    assert not domain.is_evidence_against(TARGET, "churn", None)  # endpoint-level input drift
    assert not domain.is_evidence_against(TARGET, "churn", 1)  # the old version's trouble
    assert not domain.is_evidence_against(TARGET, "fraud", 2)


def test_the_new_version_gets_the_live_config_with_its_name_and_version() -> None:
    inputs = [{"name": "x", "datatype": "FP32", "columns": ["a", "b"]}]
    live = {"name": "churn", "version": "1", "model_file": "model.onnx",
            "schema": {"inputs": inputs}}  # fmt: skip
    config = server_config(live, "churn", 2, ["model.onnx"])
    assert config == {**live, "version": "2"}
    assert server_config(None, "churn", 3, ["model.onnx"]) == {
        "name": "churn", "version": "3", "framework": "onnx", "model_file": "model.onnx",
    }  # fmt: skip
    with pytest.raises(Invalid):
        server_config(None, "churn", 3, ["model.pkl"])


def test_a_manifest_path_cannot_leave_the_folder(tmp_path: Path) -> None:
    assert inside(tmp_path, "sub/model.onnx") == (tmp_path / "sub" / "model.onnx").resolve()
    for bad in ("../evil", "/etc/passwd", "sub/../../evil", "."):
        with pytest.raises(Invalid):
            inside(tmp_path, bad)


class RecordingSource:
    """A registry in memory: a manifest and bytes per version; records each fetch."""

    def __init__(self, files: dict[str, bytes], fail_on: str | None = None) -> None:
        self.blobs = files
        self.fail_on = fail_on
        self.fetched: list[str] = []

    async def fetch(self, name: str, version: int, folder: Path) -> dict[str, Any]:
        for path, blob in self.blobs.items():
            self.fetched.append(path)
            dest = inside(folder, path)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if path == self.fail_on:
                dest.write_bytes(b"half")
                raise Unavailable("the registry went away mid-download")
            dest.write_bytes(blob)
        files = [{"path": p, "sha256": hashlib.sha256(b).hexdigest(), "size": len(b)}
                 for p, b in self.blobs.items()]  # fmt: skip
        return {"files": files}


async def test_a_version_is_materialised_whole_with_the_live_config(tmp_path: Path) -> None:
    live = tmp_path / "live"
    live.mkdir()
    (live / "modelserver.json").write_text(json.dumps({"name": "churn", "version": "1"}))
    source = RecordingSource({"model.onnx": b"v2 weights", "extra/vocab.txt": b"a b"})
    folders = ModelFolders(tmp_path / "models", source)
    folder = await folders.materialise("churn", 2, "ep", str(live))
    assert folder == (tmp_path / "models" / "churn" / "2" / "ep").resolve()
    assert (folder / "model.onnx").read_bytes() == b"v2 weights"
    assert (folder / "extra" / "vocab.txt").read_bytes() == b"a b"
    assert json.loads((folder / "modelserver.json").read_text()) == {
        "name": "churn",
        "version": "2",
    }
    assert await folders.materialise("churn", 2, "ep", str(live)) == folder
    assert source.fetched == ["model.onnx", "extra/vocab.txt"]  # the second call reused it


async def test_a_failed_download_leaves_no_folder_behind(tmp_path: Path) -> None:
    source = RecordingSource({"model.onnx": b"v2", "big.bin": b"xx"}, fail_on="big.bin")
    folders = ModelFolders(tmp_path / "models", source)
    with pytest.raises(Unavailable):
        await folders.materialise("churn", 2, "ep", None)
    assert list((tmp_path / "models" / "churn" / "2").iterdir()) == []
    source.fail_on = None
    folder = await folders.materialise("churn", 2, "ep", None)  # the retry starts afresh
    assert json.loads((folder / "modelserver.json").read_text())["model_file"] == "model.onnx"


def test_the_cli_reads_follow_steps_and_bake() -> None:
    assert follow_rollout("10, 50,100", 60.0) == {"steps": [10, 50, 100], "bake_s": 60.0}
    assert follow_rollout(None, 5.0) == {"bake_s": 5.0}
    assert follow_rollout(None, None) is None
    with pytest.raises(typer.Exit):
        follow_rollout("10,half,100", None)

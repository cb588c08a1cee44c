"""The `modelops model` and `modelops dataset` commands against a registry process."""

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelops_client.cli import app
from modelops_testkit.processes import ServiceFleet

pytestmark = pytest.mark.integration


def test_register_list_show_alias_and_download_a_folder_model(
    fleet: ServiceFleet, tmp_path: Path, onnx_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    (registry,) = fleet.start("registry")
    env = {"MODELOPS_REGISTRY_URL": registry.url, "MODELOPS_USER": "bob"}
    model = tmp_path / "model"
    (model / "extra").mkdir(parents=True)
    (model / "model.onnx").write_bytes(onnx_bytes)
    (model / "extra" / "labels.txt").write_text("cat\ndog\n")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=checkout, check=True)
    subprocess.run(
        [
            "git",
            "-c",
            "user.email=t@t",
            "-c",
            "user.name=t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
        cwd=checkout,
        check=True,
    )
    monkeypatch.chdir(checkout)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == 0, (result.output, result.stderr)
        return result.stdout

    registered = json.loads(
        run("model", "register", "digits", str(model), "--tag", "area=mnist", "--output", "json")
    )
    assert (registered["version"], registered["framework"]) == (1, "onnx")
    assert registered["created_by"] == "bob"
    assert registered["lineage"]["git_branch"] == "main"
    assert len(registered["lineage"]["git_commit"]) == 40

    listed = json.loads(run("model", "list", "--tag", "area=mnist", "--output", "json"))
    assert [v["version"] for v in listed["items"]] == [1]
    run("model", "alias", "digits", "champion", "1")
    shown = json.loads(run("model", "show", "digits@champion", "--output", "json"))
    assert shown["aliases"] == ["champion"]
    assert "digits:1" in run("model", "show", "digits:1")

    out = tmp_path / "out"
    run("model", "download", "digits:1", "-o", str(out))
    assert (out / "model.onnx").read_bytes() == onnx_bytes
    assert (out / "extra" / "labels.txt").read_text() == "cat\ndog\n"
    run("model", "download", "digits@champion", "--zip", "-o", str(out))
    assert (out / "digits-1.zip").is_file()

    failed = runner.invoke(app, ["model", "show", "digits:9"], env=env)
    assert failed.exit_code == 1
    assert failed.stderr.strip().splitlines() == ["error: model 'digits' has no version 9"]
    bad = runner.invoke(app, ["model", "list", "--tag", "nonsense"], env=env)
    assert (bad.exit_code, bad.stderr.count("\n")) == (1, 1)


def test_register_and_show_a_dataset(fleet: ServiceFleet, tmp_path: Path) -> None:
    (registry,) = fleet.start("registry")
    env = {"MODELOPS_REGISTRY_URL": registry.url}
    data = tmp_path / "train.csv"
    data.write_text("x,y\n1,a\n2,b\n3,a\n")
    runner = CliRunner()
    result = runner.invoke(
        app, ["dataset", "register", "train", str(data), "--output", "json"], env=env
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["profile"]["row_count"] == 3
    shown = runner.invoke(app, ["dataset", "show", "train:1"], env=env)
    assert shown.exit_code == 0
    assert "rows: 3" in shown.stdout
    listed = runner.invoke(app, ["dataset", "list", "--output", "json"], env=env)
    assert json.loads(listed.stdout)["total"] == 1

"""The `modelops job` and `modelops run` commands against a jobs process."""

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelops_client.cli import app
from modelops_testkit.processes import ServiceFleet

pytestmark = pytest.mark.integration

SCRIPT = """
    from modelops_client.tracking import log_metric, output_dir, param
    print("epochs", param("epochs"), flush=True)
    log_metric("accuracy", 0.75, step=1)
    (output_dir() / "model.bin").write_bytes(b"weights")
"""


def test_create_run_follow_and_inspect_a_job(fleet: ServiceFleet, tmp_path: Path) -> None:
    (jobs,) = fleet.start("jobs")
    env = {"MODELOPS_JOBS_URL": jobs.url, "MODELOPS_USER": "bob"}
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(textwrap.dedent(SCRIPT))
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, (result.output, result.stderr)
        return result.stdout

    created = run(
        "job", "create", "train", "--command", "python train.py", "--code", str(code),
        "--param", "epochs=3", "--timeout", "60", "--output", "churn=model.bin",
    )  # fmt: skip
    assert created.startswith("job train (code ")
    followed = run("job", "run", "train", "--follow")
    assert "epochs 3" in followed
    run_id = followed.split()[1]
    assert f"run {run_id} completed" in followed
    shown = json.loads(run("run", "show", run_id))
    assert (shown["state"], shown["metric_summary"], shown["created_by"]) == (
        "completed",
        {"accuracy": 0.75},
        "bob",
    )
    points = json.loads(run("run", "metrics", run_id, "--output", "json"))["points"]
    assert points == [{"name": "accuracy", "value": 0.75, "step": 1}]
    assert "epochs 3" in run("run", "logs", run_id)
    assert "train" in run("job", "list")
    run(
        "job", "create", "retrain", "--command", "python train.py", "--on", "drift.detected",
        "--filter", "endpoint_name=churn", "--cooldown", "600", "--cron", "0 3 * * *",
    )  # fmt: skip
    shown_job = run("job", "show", "retrain")
    assert '"endpoint_name": "churn"' in shown_job
    assert '"cooldown_s": 600' in shown_job
    assert '"schedule_cron": "0 3 * * *"' in shown_job
    assert "already ended" in runner.invoke(app, ["job", "cancel", run_id], env=env).stderr

    reqs = tmp_path / "requirements.txt"
    reqs.write_text("# pinned\nsix==1.16.0  # small\n\n")
    run(
        "job", "create", "boxed", "--command", "python train.py", "-r", "tomli==2.0.1",
        "--requirements-file", str(reqs), "--runtime", "container", "--cpus", "0.5",
        "--memory-mb", "256",
    )  # fmt: skip
    boxed, _ = json.JSONDecoder().raw_decode(run("job", "show", "boxed"))  # then its runs
    assert boxed["environment"] == {
        "requirements": ["tomli==2.0.1", "six==1.16.0"], "runtime": "container", "base_image": None,
    }  # fmt: skip
    assert boxed["resources"] == {"cpus": 0.5, "memory_mb": 256}
    refusals = {
        ("--runtime", "vm"): "error: --runtime must be process or container, not 'vm'",
        ("--cpus", "lots"): "error: --cpus takes a number",
        ("--cpus", "2"): "error: body: Value error, resources are enforced for container runs",
        ("-r", "six; rm -rf /"): "error: body.environment.requirements.0: String should match",
        ("--requirements-file", str(tmp_path / "none.txt")): "error: requirements file",
    }
    for args, message in refusals.items():
        result = runner.invoke(app, ["job", "create", "x", "--command", "true", *args], env=env)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.startswith(message), (args, result.stderr)
        assert result.stderr.count("\n") == 1, result.stderr  # one line

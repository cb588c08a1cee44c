"""Runs as real local processes: metrics, logs, outputs and the run.* events."""

from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from modelops_contracts.events import RunCompleted, RunFailed, RunStarted
from modelops_jobs.settings import JobsSettings
from modelops_servicekit.objects import MinioObjectStore
from modelops_testkit.probe import BusProbe

if TYPE_CHECKING:
    from conftest import Kit

pytestmark = pytest.mark.integration

TRAIN = """
    import os, sys
    from modelops_client.tracking import log_metric, output_dir, param
    print("training with lr", param("lr"), "args", sys.argv[1:], flush=True)
    for step in range(3):
        log_metric("loss", 1.0 / (step + 1), step=step)
    log_metric("auc", 0.91)
    print("oops on stderr", file=sys.stderr)
    run_id = os.environ["MODELOPS_RUN_ID"].encode()
    (output_dir() / "model.onnx").write_bytes(b"fake-onnx-" + run_id)
"""


async def test_a_run_logs_metrics_stores_its_log_and_announces_its_model_output(
    jobs: httpx.AsyncClient,
    kit: "Kit",
    jobs_settings: JobsSettings,
    bus_probe: BusProbe,
    tmp_path: Path,
) -> None:
    outputs = [{"model_name": "churn", "path": "model.onnx", "framework": "onnx"}]
    job = await kit.define_job(
        "train", TRAIN, parameters={"lr": 0.1}, param_args=True, outputs=outputs
    )
    assert job["parameters"] == {"lr": "0.1"}
    assert [j["name"] for j in (await jobs.get("/v1/jobs")).json()["items"]] == ["train"]
    run_id = await kit.start("train", lr=0.2)

    await bus_probe.expect(RunStarted, lambda e: e.run_id == run_id, timeout=20)
    done = await bus_probe.expect(RunCompleted, lambda e: e.run_id == run_id, timeout=20)
    assert done.metrics == {"loss": pytest.approx(1 / 3), "auc": 0.91}
    assert done.lineage.run_id == run_id
    [output] = done.outputs
    bucket = jobs_settings.objects.bucket
    assert output.model_name == "churn"
    assert output.artifact_uri == f"s3://{bucket}/runs/{run_id}/outputs/model.onnx"
    stored = tmp_path / "stored.onnx"
    await MinioObjectStore(jobs_settings.objects).get_file(
        f"runs/{run_id}/outputs/model.onnx", stored
    )
    assert stored.read_bytes() == b"fake-onnx-" + run_id.encode()

    run = (await jobs.get(f"/v1/runs/{run_id}")).json()
    assert (run["state"], run["exit_code"], run["parameters"]) == ("completed", 0, {"lr": "0.2"})
    metrics = (await jobs.get(f"/v1/runs/{run_id}/metrics")).json()
    assert [(p["name"], p["step"]) for p in metrics["points"]] == [
        ("loss", 0),
        ("loss", 1),
        ("loss", 2),
        ("auc", None),
    ]
    logs = await jobs.get(f"/v1/runs/{run_id}/logs")
    assert "training with lr 0.2 args ['--lr', '0.2']" in logs.text
    assert "oops on stderr" in logs.text
    assert logs.headers["x-run-state"] == "completed"


async def test_a_failing_script_fails_the_run_with_its_exit_code_and_log_tail(
    jobs: httpx.AsyncClient, kit: "Kit", bus_probe: BusProbe
) -> None:
    script = "import sys\nprint('bad data', file=sys.stderr)\nsys.exit(3)\n"
    await kit.define_job("broken", script)
    run_id = await kit.start("broken")
    failed = await bus_probe.expect(RunFailed, lambda e: e.run_id == run_id, timeout=20)
    assert failed.reason == "the command exited with code 3"
    assert "bad data" in failed.log_tail
    assert not failed.cancelled
    run = (await jobs.get(f"/v1/runs/{run_id}")).json()
    assert (run["state"], run["exit_code"]) == ("failed", 3)
    assert bus_probe.of(RunCompleted, lambda e: e.run_id == run_id) == []


async def test_a_declared_output_that_was_not_written_fails_the_run(
    jobs: httpx.AsyncClient, kit: "Kit", bus_probe: BusProbe
) -> None:
    outputs = [{"model_name": "m", "path": "model.onnx"}]
    await kit.define_job("forgetful", "print('done')\n", outputs=outputs)
    run_id = await kit.start("forgetful")
    failed = await bus_probe.expect(RunFailed, lambda e: e.run_id == run_id, timeout=20)
    assert failed.reason == "declared output 'model.onnx' was not written (or is empty)"


async def test_a_run_past_its_timeout_is_killed_and_fails(
    jobs: httpx.AsyncClient, kit: "Kit", bus_probe: BusProbe
) -> None:
    script = "import time\nprint('sleeping', flush=True)\ntime.sleep(60)\n"
    await kit.define_job("slow", script, timeout_s=1.0)
    run_id = await kit.start("slow")
    failed = await bus_probe.expect(RunFailed, lambda e: e.run_id == run_id, timeout=20)
    assert failed.reason == "timed out after 1 s"
    assert "sleeping" in failed.log_tail
    assert (await jobs.get(f"/v1/runs/{run_id}")).json()["state"] == "failed"


async def test_unknown_jobs_snapshots_and_duplicates_are_refused(
    jobs: httpx.AsyncClient, kit: "Kit"
) -> None:
    await kit.define_job("once", "print(1)\n")
    dup = await jobs.post("/v1/jobs", json={"name": "once", "command": ["true"]})
    assert dup.status_code == 409
    missing = await jobs.post(
        "/v1/jobs", json={"name": "x", "command": ["true"], "code_sha256": "0" * 64}
    )
    assert missing.status_code == 400
    assert (await jobs.post("/v1/jobs/nope/runs", json={})).status_code == 404
    assert (await jobs.get("/v1/runs/nope")).status_code == 404
    escape = {"name": "y", "command": ["true"], "outputs": [{"model_name": "m", "path": "../x"}]}
    assert (await jobs.post("/v1/jobs", json=escape)).status_code == 422

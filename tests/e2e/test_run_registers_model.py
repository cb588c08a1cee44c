"""A run's declared model reaches the registry with its files and the run's lineage: jobs and
registry processes on the real stack, driven through the CLI and SDK."""

import hashlib
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelops_client.cli import app
from modelops_client.config import ClientSettings
from modelops_client.http import ModelOpsClientError
from modelops_client.registry import RegistryClient
from modelops_contracts.api.registry import ModelVersionInfo
from modelops_testkit.processes import ServiceFleet

pytestmark = pytest.mark.e2e

SCRIPT = """
    from modelops_client.tracking import log_metric, output_dir
    log_metric("accuracy", 0.9)
    (output_dir() / "model.bin").write_bytes(b"trained weights")
"""


def _registered(registry: RegistryClient, ref: str, timeout_s: float = 60) -> ModelVersionInfo:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return registry.get_model(ref)
        except ModelOpsClientError as exc:  # not registered yet: the registry hears run.completed
            if exc.status != 404 or time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def test_a_completed_run_registers_its_model_with_files_and_lineage(
    fleet: ServiceFleet, tmp_path: Path
) -> None:
    registry, jobs = fleet.start("registry", "jobs")
    env = {"MODELOPS_JOBS_URL": jobs.url, "MODELOPS_REGISTRY_URL": registry.url}
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(textwrap.dedent(SCRIPT))
    runner = CliRunner()
    created = runner.invoke(
        app,
        ["job", "create", "train", "--command", "python train.py", "--code", str(code),
         "--timeout", "60", "--output", "churn=model.bin"],
        env=env,
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    followed = runner.invoke(app, ["job", "run", "train", "--follow"], env=env)
    assert followed.exit_code == 0, followed.output
    run_id = followed.stdout.split()[1]

    settings = ClientSettings(registry_url=registry.url)
    with RegistryClient(settings) as sdk:
        version = _registered(sdk, "churn:latest")
        assert version.lineage.run_id == run_id
        [entry] = version.files
        assert (entry.path, entry.sha256) == (
            "model.bin",
            hashlib.sha256(b"trained weights").hexdigest(),
        )
        out = sdk.download_model("churn:latest", tmp_path / "out")
    assert (out / "model.bin").read_bytes() == b"trained weights"

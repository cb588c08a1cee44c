"""Process runs in a virtualenv of the job's requirements: built once (pip's output in the run's
log), isolated from the service's packages, reused by the next run; bad definitions are
refused with a 422 before anything runs."""

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from modelops_jobs.settings import JobsSettings

if TYPE_CHECKING:
    from conftest import Kit

pytestmark = pytest.mark.integration

SCRIPT = """
    import sys
    import six
    print("six at", six.__file__, flush=True)
    print("python", sys.executable)
    try:
        import fastapi
    except ImportError:
        print("fastapi is not importable here")
    else:
        print("fastapi leaked in from", fastapi.__file__)
"""


@pytest.fixture
def jobs_settings(service_settings: Callable[..., Any], tmp_path: Path) -> JobsSettings:
    settings: JobsSettings = service_settings(
        JobsSettings, "jobs", runs_dir=tmp_path / "runs", envs_dir=tmp_path / "envs"
    )
    return settings


async def test_a_virtualenv_is_built_once_isolated_and_reused(
    jobs: httpx.AsyncClient, kit: "Kit", jobs_settings: JobsSettings
) -> None:
    envs = jobs_settings.envs_dir.resolve()
    await kit.define_job("six", SCRIPT, environment={"requirements": ["six==1.16.0"]})
    first = await kit.wait_state(await kit.start("six"), "completed", "failed", timeout=180)
    log = (await jobs.get(f"/v1/runs/{first['run_id']}/logs")).text
    assert first["state"] == "completed", (first, log)
    assert "Successfully installed six-1.16.0" in log
    six_at = Path(log.split("six at ", 1)[1].split()[0]).resolve()
    assert six_at.is_relative_to(envs), (six_at, envs)
    assert "fastapi is not importable here" in log
    used = first["environment_used"]
    assert used["runtime"] == "process"
    assert Path(used["python"]).is_relative_to(jobs_settings.envs_dir)  # its own, not resolved
    assert len(used["env_digest"]) == 64

    second = await kit.wait_state(await kit.start("six"), "completed", "failed", timeout=60)
    log2 = (await jobs.get(f"/v1/runs/{second['run_id']}/logs")).text
    assert second["state"] == "completed", (second, log2)
    assert second["environment_used"] == used
    assert "environment: reusing virtualenv" in log2
    assert "Collecting" not in log2
    assert "Successfully installed" not in log2


async def test_bad_environments_are_refused_and_a_failed_install_fails_the_run(
    jobs: httpx.AsyncClient, kit: "Kit"
) -> None:
    def job(**fields: Any) -> dict[str, Any]:
        return {"name": "bad", "command": ["python", "-c", "pass"], **fields}

    for requirement in ("six; rm -rf /", "git+https://example.com/x.git", "-e .", "six\n--pre"):
        resp = await jobs.post("/v1/jobs", json=job(environment={"requirements": [requirement]}))
        assert resp.status_code == 422, (requirement, resp.text)
    resp = await jobs.post("/v1/jobs", json=job(resources={"cpus": 1}))
    assert resp.status_code == 422
    assert "resources are enforced for container runs" in resp.json()["detail"]
    unknown = job(environment={"runtime": "vm"})
    assert (await jobs.post("/v1/jobs", json=unknown)).status_code == 422

    missing = {"requirements": ["modelops-no-such-package-anywhere==0.0.1"]}
    await kit.define_job("missing", "print('never')\n", environment=missing)
    run = await kit.wait_state(await kit.start("missing"), "failed", "completed", timeout=180)
    assert run["state"] == "failed"
    assert run["reason"].startswith("environment: pip install failed: "), run["reason"]
    assert "modelops-no-such-package-anywhere" in run["reason"]
    log = (await jobs.get(f"/v1/runs/{run['run_id']}/logs")).text
    assert "never" not in log
    assert "environment: creating virtualenv" in log

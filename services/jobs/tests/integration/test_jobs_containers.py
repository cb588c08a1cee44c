"""Container runs on the real Docker engine, in the builder's default environment image (a
builder and a registry process): the run reads its dataset input and writes an output and
metrics under /run, within its CPU and memory limits; a cancelled run, and a container left by
runs this service no longer runs (removed when it starts), leave no container behind."""

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker
import httpx
import pytest
from asgi_lifespan import LifespanManager

from modelops_client.config import ClientSettings
from modelops_client.registry import RegistryClient
from modelops_contracts.events import RunCompleted
from modelops_jobs.app import create_app
from modelops_jobs.environments import RUN_LABEL, SCOPE_LABEL
from modelops_jobs.settings import JobsSettings
from modelops_servicekit.objects import MinioObjectStore
from modelops_testkit.probe import BusProbe
from modelops_testkit.processes import ServiceFleet

if TYPE_CHECKING:
    from conftest import Kit

pytestmark = [pytest.mark.integration, pytest.mark.docker, pytest.mark.timeout(900)]
CONTAINER = {"runtime": "container"}
TRAIN = """
    import json, os, pathlib, sys

    def first(*paths):
        for path in paths:
            if os.path.exists(path):
                return pathlib.Path(path).read_text().split()[0]
        return "?"

    print("python", sys.executable, "in", os.getcwd(), flush=True)
    print("memory limit", first("/sys/fs/cgroup/memory.max",
                                "/sys/fs/cgroup/memory/memory.limit_in_bytes"))
    print("cpu quota", first("/sys/fs/cgroup/cpu.max", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"))
    folder = pathlib.Path(os.environ["MODELOPS_INPUT_TRAIN"])
    rows = sum(len(f.read_text().splitlines()) - 1 for f in folder.glob("*.csv"))
    out = pathlib.Path(os.environ["MODELOPS_OUTPUT_DIR"])
    (out / "model.txt").write_text(f"rows={rows}")
    with open(os.environ["MODELOPS_METRICS_FILE"], "a") as metrics:
        metrics.write(json.dumps({"name": "rows", "value": rows, "step": 1}) + "\\n")
"""


@pytest.fixture
def engine(jobs_settings: JobsSettings) -> Iterator[docker.DockerClient]:
    """The engine the runs use; unreachable is a failure, never a skip."""
    client = docker.DockerClient(base_url=jobs_settings.docker.host)
    assert client.ping(), f"no Docker engine at {jobs_settings.docker.host}"
    yield client
    client.close()


@pytest.fixture
def peers(fleet: ServiceFleet) -> dict[str, str]:
    """A registry and a builder (its wheels cached across runs, as the builder's tests do)."""
    fleet.extra_env["MODELOPS_WORK_DIR"] = str(Path.home() / ".cache/modelops/builder-tests")
    registry, builder = fleet.start("registry", "builder")
    return {"registry_url": registry.url, "builder_url": builder.url}


@pytest.fixture
def jobs_settings(
    service_settings: Callable[..., Any], tmp_path: Path, peers: dict[str, str]
) -> JobsSettings:
    settings: JobsSettings = service_settings(
        JobsSettings, "jobs", runs_dir=tmp_path / "runs", kill_grace_s=1.0, heartbeat_s=0.2,
        **peers,
    )  # fmt: skip
    return settings


def containers_of(engine: docker.DockerClient, label: str) -> list[str]:
    """Ids of the containers with `label`, running or not (no inspection: they may be going)."""
    return [c["Id"] for c in engine.api.containers(all=True, filters={"label": label})]


async def test_a_container_run_reads_inputs_writes_outputs_and_leaves_no_container(
    kit: "Kit",
    jobs_settings: JobsSettings,
    peers: dict[str, str],
    engine: docker.DockerClient,
    bus_probe: BusProbe,
    tmp_path: Path,
) -> None:
    bad = {"requirements": ["six; rm -rf /"]}
    async with httpx.AsyncClient(base_url=peers["builder_url"]) as builder:
        refused = await builder.post("/v1/environments", json=bad)
    assert refused.status_code == 422  # before anything is built
    assert refused.headers["content-type"].startswith("application/problem+json")
    (tmp_path / "rows.csv").write_text("x,label\n1,0\n2,1\n3,0\n")
    with RegistryClient(ClientSettings(registry_url=peers["registry_url"])) as registry:
        registry.register_dataset("rows", tmp_path / "rows.csv")
    outputs = [{"model_name": "rows-model", "path": "model.txt", "auto_register": False}]
    await kit.define_job(
        "boxed", TRAIN, environment=CONTAINER, resources={"cpus": 0.5, "memory_mb": 256},
        inputs=[{"name": "train", "dataset": "rows"}], outputs=outputs,
    )  # fmt: skip
    run_id = await kit.start("boxed")
    done = await bus_probe.expect(RunCompleted, lambda e: e.run_id == run_id, timeout=600)
    run = await kit.run(run_id)
    log = (await kit.http.get(f"/v1/runs/{run_id}/logs")).text
    assert run["state"] == "completed", (run, log)
    assert "python /opt/venv/bin/python in /run/code" in log
    assert '"image": "modelops/env:' in log  # the builder's streamed answer
    assert "memory limit 268435456" in log
    assert "cpu quota 50000" in log
    assert done.metrics == {"rows": 3.0}
    used = run["environment_used"]
    assert (used["runtime"], used["image"]) == (
        "container",
        f"modelops/env:{used['env_digest'][:16]}",
    )
    [output] = done.outputs
    stored = tmp_path / "stored.txt"
    key = output.artifact_uri.split("/", 3)[3]
    await MinioObjectStore(jobs_settings.objects).get_file(key, stored)
    assert stored.read_text() == "rows=3"
    assert containers_of(engine, f"{RUN_LABEL}={run_id}") == []

    await kit.define_job("sleeper", "import time\nprint('sleeping', flush=True)\ntime.sleep(300)\n",
                         environment=CONTAINER)  # fmt: skip
    sleeper = await kit.start("sleeper")
    await kit.wait_state(sleeper, "running", timeout=120)
    async with asyncio.timeout(60):
        while "sleeping" not in (await kit.http.get(f"/v1/runs/{sleeper}/logs")).text:
            await asyncio.sleep(0.2)
    assert len(containers_of(engine, f"{RUN_LABEL}={sleeper}")) == 1
    assert (await kit.http.post(f"/v1/runs/{sleeper}/cancel")).status_code == 202
    assert (await kit.wait_state(sleeper, "cancelled", timeout=30))["reason"] == "cancelled"
    assert containers_of(engine, f"{RUN_LABEL}={sleeper}") == []
    await assert_leftovers_removed_on_start(jobs_settings, engine)


async def assert_leftovers_removed_on_start(
    settings: JobsSettings, engine: docker.DockerClient
) -> None:
    """A container of a run this service no longer runs goes when it starts; others stay."""
    scope = settings.mongo.database
    labels = {SCOPE_LABEL: scope, RUN_LABEL: "gone"}
    base = "modelops/python-base:bookworm"
    engine.containers.run(base, ["sleep", "300"], detach=True, labels=labels)
    other_labels = {**labels, SCOPE_LABEL: f"{scope}-other"}
    other = engine.containers.run(base, ["sleep", "300"], detach=True, labels=other_labels)
    try:
        app = create_app(settings)
        async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
            async with asyncio.timeout(20):
                while containers_of(engine, f"{SCOPE_LABEL}={scope}"):
                    await asyncio.sleep(0.2)
        assert containers_of(engine, f"{SCOPE_LABEL}={scope}-other") == [other.id]
    finally:
        for container_id in containers_of(engine, f"{RUN_LABEL}=gone"):
            engine.api.remove_container(container_id, force=True)

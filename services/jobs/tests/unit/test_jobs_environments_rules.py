"""Run environments without I/O: digests, container paths, job validation, and the container
runtime's steps on a recording engine (stop and remove on cancel or timeout)."""

import asyncio
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import ValidationError

from modelops_jobs.api_models import CreateJob
from modelops_jobs.containers import ContainerRuntime
from modelops_jobs.environments import (
    CONTAINER_PYTHON,
    RUN_LABEL,
    SCOPE_LABEL,
    ContainerSpec,
    EnvSpec,
    Launch,
    Prepared,
    Workdir,
    container_spec,
    env_digest,
    moved,
)
from modelops_jobs.process import ProcessSpec


def test_the_env_digest_ignores_order_case_and_spaces_but_not_the_python() -> None:
    digest = env_digest("3.11.7", ["six==1.16.0", "numpy==2.4.6"])
    assert env_digest("3.11.7", ("NumPy == 2.4.6", "six==1.16.0")) == digest
    assert env_digest("3.11.8", ["six==1.16.0", "numpy==2.4.6"]) != digest
    assert env_digest("3.11.7", ["six==1.16.0"]) != digest
    assert len(digest) == 64


def test_paths_of_the_run_folder_move_under_run_and_nothing_else_does(tmp_path: Path) -> None:
    root = tmp_path / "runs" / "abc"
    assert moved(str(root / "inputs" / "train"), root) == "/run/inputs/train"
    assert moved(str(root), root) == "/run"
    assert moved(str(root) + "-other/x", root) == str(root) + "-other/x"
    assert moved("0.1", root) == "0.1"
    env = {
        "MODELOPS_OUTPUT_DIR": str(root / "outputs"),
        "MODELOPS_METRICS_FILE": str(root / "metrics.jsonl"),
        "MODELOPS_PARAM_LR": "0.1",
    }
    spec = ProcessSpec(["python", "train.py"], root / "code", env, root / "log.txt", 60.0)
    inside = container_spec(spec, root)
    assert inside.cwd == Path("/run/code")
    assert inside.env == {
        "MODELOPS_OUTPUT_DIR": "/run/outputs",
        "MODELOPS_METRICS_FILE": "/run/metrics.jsonl",
        "MODELOPS_PARAM_LR": "0.1",
    }
    assert inside.log_path == spec.log_path  # the log stays on the host


def test_a_job_without_environment_keeps_the_service_python_and_resources_need_a_container() -> (
    None
):
    plain = CreateJob(name="j", command=["python", "t.py"])
    assert (plain.environment, plain.resources) == (None, None)
    assert EnvSpec.of({"environment": None, "resources": None}) == EnvSpec()
    boxed = CreateJob(
        name="j",
        command=["python"],
        environment={"runtime": "container", "requirements": ["six==1.16.0"]},
        resources={"cpus": 2, "memory_mb": 512},
    )
    spec = EnvSpec.of(boxed.model_dump())
    assert (spec.runtime, spec.requirements, spec.cpus, spec.memory_mb) == (
        "container",
        ("six==1.16.0",),
        2.0,
        512,
    )
    with pytest.raises(ValidationError, match="resources are enforced for container runs"):
        CreateJob(name="j", command=["python"], resources={"memory_mb": 512})
    with pytest.raises(ValidationError, match="base_image is for container runs"):
        CreateJob(name="j", command=["python"], environment={"base_image": "x:1"})
    with pytest.raises(ValidationError, match="should match pattern"):
        CreateJob(name="j", command=["python"], environment={"requirements": ["a b c"]})


@dataclass
class RecordingEngine:
    """Containers that record each call; `exits_after` polls until the command ends."""

    exits_after: int | None = 1
    calls: list[str] = field(default_factory=list)
    created: list[ContainerSpec] = field(default_factory=list)
    polls: int = 0
    stopped: bool = False

    def create(self, spec: ContainerSpec) -> str:
        self.created.append(spec)
        self.calls.append("create")
        return "c1"

    def copy_in(self, container_id: str, path: str, tar: Path) -> None:
        with tarfile.open(tar) as t:
            self.calls.append("copy_in " + ",".join(sorted(t.getnames())))

    def copy_out(self, container_id: str, path: str, tar: Path) -> bool:
        self.calls.append(f"copy_out {path}")
        if path != "/run/outputs":
            return False
        with tarfile.open(tar, "w") as t:
            info = tarfile.TarInfo("outputs/model.bin")
            info.size = 0
            t.addfile(info)
        return True

    def start(self, container_id: str) -> None:
        self.calls.append("start")

    def follow_logs(self, container_id: str, log: Path) -> None:
        self.calls.append("follow_logs")

    def exit_code(self, container_id: str) -> int | None:
        self.polls += 1
        if self.stopped:
            return 137
        return 0 if self.exits_after is not None and self.polls > self.exits_after else None

    def stop(self, container_id: str, grace_s: float) -> None:
        self.stopped = True
        self.calls.append(f"stop {grace_s:g}")

    def remove(self, container_id: str) -> None:
        self.calls.append("remove")

    def labelled(self, label: str, value: str) -> list[tuple[str, str]]:
        return [("c1", "done-run"), ("c2", "live-run")]


class NoImages:
    async def ensure(
        self, requirements: tuple[str, ...], base_image: str | None, log: Path
    ) -> tuple[str, str]:
        raise AssertionError("not asked")


def launch(tmp_path: Path, timeout_s: float = 60.0) -> Launch:
    work = Workdir(tmp_path / "run")
    for folder in (work.code, work.outputs):
        folder.mkdir(parents=True)
    (work.code / "train.py").write_text("print(1)\n")
    env = {"MODELOPS_OUTPUT_DIR": str(work.outputs)}
    spec = ProcessSpec([CONTAINER_PYTHON, "train.py"], work.code, env, work.log, timeout_s, 2.0)
    prepared = Prepared(CONTAINER_PYTHON, {}, {"image": "modelops/env:abc"})
    return Launch(spec, work, EnvSpec("container", cpus=0.5), prepared, {RUN_LABEL: "r1"})


def runtime(engine: RecordingEngine) -> ContainerRuntime:
    return ContainerRuntime(NoImages(), engine, network_mode="host", scope="jobs", poll_s=0.01)


async def test_a_container_run_copies_in_runs_copies_back_and_is_removed(tmp_path: Path) -> None:
    engine = RecordingEngine()
    run = launch(tmp_path)
    outcome = await runtime(engine).run(run, asyncio.Event())
    assert (outcome.exit_code, outcome.cancelled, outcome.timed_out) == (0, False, False)
    assert engine.calls == [
        "create",
        "copy_in run,run/code,run/code/train.py,run/inputs,run/outputs",
        "start",
        "follow_logs",
        "copy_out /run/outputs",
        "copy_out /run/metrics.jsonl",
        "remove",
    ]
    [spec] = engine.created
    assert (spec.workdir, spec.env, spec.cpus) == (
        "/run/code",
        {"MODELOPS_OUTPUT_DIR": "/run/outputs"},
        0.5,
    )
    assert spec.labels == {RUN_LABEL: "r1", SCOPE_LABEL: "jobs"}
    assert (run.work.outputs / "model.bin").exists()


async def test_a_cancelled_or_timed_out_container_is_stopped_then_removed(tmp_path: Path) -> None:
    engine = RecordingEngine(exits_after=None)
    cancel = asyncio.Event()
    task = asyncio.create_task(runtime(engine).run(launch(tmp_path / "a"), cancel))
    await asyncio.sleep(0.05)
    cancel.set()
    outcome = await task
    assert (outcome.cancelled, outcome.timed_out, outcome.exit_code) == (True, False, 137)
    assert engine.calls[-4:] == [
        "stop 2",
        "copy_out /run/outputs",
        "copy_out /run/metrics.jsonl",
        "remove",
    ]

    engine = RecordingEngine(exits_after=None)
    outcome = await runtime(engine).run(launch(tmp_path / "b", timeout_s=0.05), asyncio.Event())
    assert (outcome.cancelled, outcome.timed_out) == (False, True)
    assert "stop 2" in engine.calls
    assert engine.calls[-1] == "remove"


async def test_the_sweep_removes_only_containers_of_runs_no_longer_active() -> None:
    engine = RecordingEngine()

    async def active(run_id: str) -> bool:
        return run_id == "live-run"

    assert await runtime(engine).sweep(active) == 1
    assert engine.calls == ["remove"]

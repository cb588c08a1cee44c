"""Where a run's command executes: the service's Python (the default), a virtualenv of the job's
requirements, or a container of the builder's environment image. Pure: the run's folder, the
environment digest, container paths, and the ports the runtimes use."""

import asyncio
import hashlib
import json
import tarfile
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Protocol, TypeVar

from modelops_contracts.api.environments import normalized_requirements
from modelops_jobs.ports import Document
from modelops_jobs.process import Outcome, ProcessSpec
from modelops_servicekit.errors import Invalid

T = TypeVar("T")
PROCESS, CONTAINER = "process", "container"
CONTAINER_ROOT = PurePosixPath("/run")
"""Where a container run finds its folder: /run/code (the workdir), /run/inputs, /run/outputs."""
CONTAINER_PYTHON = "/opt/venv/bin/python"
CONTAINER_ENV = {
    "PATH": "/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/tmp",  # noqa: S108  # inside the container
    "LANG": "C.UTF-8",
    "PYTHONUNBUFFERED": "1",  # the log follows the run, not the end of a buffer
}
"""The base environment of a container run (nothing of the service's own)."""
RUN_LABEL, JOB_LABEL = "org.modelops.run-id", "org.modelops.job"
SCOPE_LABEL = "org.modelops.jobs"
"""Container label: the jobs service (its database) whose run the container is."""
RESOURCES_NEED_CONTAINER = (
    "resources are enforced for container runs; set environment.runtime to container"
)


class EnvironmentFailed(Invalid):
    """The run's environment could not be set up; the message is the run's reason."""


class SetupCancelled(Exception):
    """The run was cancelled (or the service stopped) while its environment was set up."""


@dataclass(frozen=True)
class Workdir:
    """The fresh folder of one run (a container run sees the same layout under /run)."""

    root: Path

    @property
    def code(self) -> Path:
        return self.root / "code"

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def inputs(self) -> Path:
        return self.root / "inputs"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def log(self) -> Path:
        return self.root / "log.txt"


@dataclass(frozen=True)
class EnvSpec:
    """A run's environment and resources, as its job defined them."""

    runtime: str = PROCESS
    requirements: tuple[str, ...] = ()
    base_image: str | None = None
    cpus: float | None = None
    memory_mb: int | None = None

    @classmethod
    def of(cls, run: Document) -> "EnvSpec":
        """The run's `environment` and `resources` (absent: the service's Python, no limits)."""
        env, res = run.get("environment") or {}, run.get("resources") or {}
        return cls(
            runtime=env.get("runtime", PROCESS),
            requirements=tuple(env.get("requirements") or ()),
            base_image=env.get("base_image"),
            cpus=res.get("cpus"),
            memory_mb=res.get("memory_mb"),
        )


def env_digest(python_version: str, requirements: tuple[str, ...] | list[str]) -> str:
    """A virtualenv's key: the Python version and the normalised, sorted requirements."""
    key = [python_version, normalized_requirements(tuple(requirements))]
    return hashlib.sha256(json.dumps(key, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class Prepared:
    """The environment a run's command gets, and what is recorded on the run about it."""

    python: str
    """What a bare `python` in the command means."""
    base_env: dict[str, str]
    record: Document = field(default_factory=dict)
    """`environment_used` of the run: runtime, env_digest, python or image."""


@dataclass(frozen=True)
class Launch:
    """One run's command, ready to start in its prepared environment."""

    spec: ProcessSpec
    work: Workdir
    env: EnvSpec
    prepared: Prepared
    labels: dict[str, str]


def moved(value: str, host_root: Path, root: PurePosixPath = CONTAINER_ROOT) -> str:
    """A host path under the run's folder as the container sees it; other values unchanged."""
    host = str(host_root)
    if value == host or value.startswith(host + "/"):
        return str(root) + value[len(host) :]
    return value


def container_spec(spec: ProcessSpec, host_root: Path) -> ProcessSpec:
    """The run's command with every path of its folder remapped under /run."""
    env = {k: moved(v, host_root) for k, v in spec.env.items()}
    return replace(spec, env=env, cwd=Path(moved(str(spec.cwd), host_root)))


def unpack(archive: Path, into: Path) -> None:
    """Extract a tar(.gz) into a folder."""
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")  # no absolute paths, links out or devices


def last_line(text: str) -> str:
    """The last non-blank line of a log (what a failed tool said last)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


async def unless_cancelled(work: Coroutine[Any, Any, T], cancel: asyncio.Event) -> T:
    """Await `work`, abandoning it (SetupCancelled) as soon as `cancel` is set."""
    task = asyncio.ensure_future(work)
    stop = asyncio.ensure_future(cancel.wait())
    try:
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    if task.cancelled():
        raise SetupCancelled
    return task.result()


class Runtime(Protocol):
    """Sets up a run's environment, then runs its command there to the end."""

    async def prepare(self, env: EnvSpec, log: Path, cancel: asyncio.Event) -> Prepared:
        """Raises EnvironmentFailed, or SetupCancelled once `cancel` is set."""

    async def run(self, launch: Launch, cancel: asyncio.Event) -> Outcome:
        """Run to the end, the timeout or a cancel; nothing of the run outlives this call."""

    async def sweep(self, active: Callable[[str], Awaitable[bool]]) -> int:
        """Remove what runs that are no longer `active` left behind; returns how many."""


class EnvironmentImages(Protocol):
    """Environment images (the builder's `POST /v1/environments`)."""

    async def ensure(
        self, requirements: tuple[str, ...], base_image: str | None, log: Path
    ) -> tuple[str, str]:
        """Build or reuse the image, its build log appended to `log`; (image tag, env digest).
        Raises EnvironmentFailed with the builder's reason."""


@dataclass(frozen=True)
class ContainerSpec:
    """A container to create for one run."""

    image: str
    argv: list[str]
    env: dict[str, str]
    workdir: str
    labels: dict[str, str]
    network_mode: str
    cpus: float | None = None
    memory_mb: int | None = None


class Containers(Protocol):
    """A container engine (synchronous: called in threads)."""

    def create(self, spec: ContainerSpec) -> str:
        """A created (not started) container; its id."""

    def copy_in(self, container_id: str, path: str, tar: Path) -> None: ...
    def copy_out(self, container_id: str, path: str, tar: Path) -> bool:
        """Write a tar of `path` in the container to `tar`; False if the path does not exist."""

    def start(self, container_id: str) -> None: ...
    def follow_logs(self, container_id: str, log: Path) -> None:
        """Append the container's output to `log` until it ends."""

    def exit_code(self, container_id: str) -> int | None:
        """None while it runs."""

    def stop(self, container_id: str, grace_s: float) -> None:
        """SIGTERM, SIGKILL after `grace_s`, then kill if it still runs."""

    def remove(self, container_id: str) -> None:
        """Force-remove; no error if it is gone."""

    def labelled(self, label: str, value: str) -> list[tuple[str, str]]:
        """(id, run id) of every container, running or not, whose `label` is `value`."""

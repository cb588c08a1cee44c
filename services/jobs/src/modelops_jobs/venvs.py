"""Process runs: the service's Python, or a virtualenv of the job's requirements.

A virtualenv is built once per environment digest, under a file lock (two runs, or two
processes, never build the same one at once): `python -m venv` and `pip install -r` in a
folder of its own, pip's output in the run's log; once pip succeeded, the link named by the
digest is atomically renamed into place. A half-built environment is never used: only a link
names a usable one. The folder itself never moves (a virtualenv is not relocatable).
"""

import asyncio
import contextlib
import fcntl
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from modelops_jobs.environments import (
    PROCESS,
    EnvironmentFailed,
    EnvSpec,
    Launch,
    Prepared,
    SetupCancelled,
    env_digest,
    last_line,
)
from modelops_jobs.process import Outcome, ProcessSpec, run_process

LOCK_POLL_S = 0.2


def append_line(log: Path, line: str) -> None:
    """Add one line of the service's own to a run's log."""
    with log.open("a", encoding="utf-8") as f:
        f.write(line + "\n")


def _try_lock(path: Path) -> int | None:
    """An exclusive lock on `path` (its descriptor), or None if someone holds it."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _unlock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def _publish(build: Path, link: Path) -> None:
    """Point `link` at the finished build, atomically."""
    staged = link.with_name(f".{link.name}.{uuid.uuid4().hex[:8]}.link")
    staged.symlink_to(build, target_is_directory=True)
    os.replace(staged, link)


def _clear_builds(builds: Path, digest: str) -> None:
    """Folders of earlier builds of `digest` that never finished (their process died)."""
    builds.mkdir(parents=True, exist_ok=True)
    for old in builds.glob(f"{digest}-*"):
        shutil.rmtree(old, ignore_errors=True)


class Venvs:
    """Virtualenvs by environment digest under `root`, built from the service's Python."""

    def __init__(
        self,
        root: Path,
        python: str,
        python_version: str,
        setup_env: dict[str, str],
        *,
        timeout_s: float,
        grace_s: float,
    ) -> None:
        self.root, self.python, self.python_version = root, python, python_version
        self.setup_env, self.timeout_s, self.grace_s = setup_env, timeout_s, grace_s

    async def ensure(
        self, requirements: tuple[str, ...], log: Path, cancel: asyncio.Event
    ) -> tuple[str, Path]:
        """(digest, folder) of the virtualenv with `requirements`, built unless it exists."""
        digest = env_digest(self.python_version, requirements)
        link = self.root / digest
        if not link.exists():
            await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
            async with self._locked(digest, cancel):
                if not link.exists():
                    await self._build(digest, requirements, link, log, cancel)
                    return digest, link
        await asyncio.to_thread(append_line, log, f"environment: reusing virtualenv {link}")
        return digest, link

    @contextlib.asynccontextmanager
    async def _locked(self, digest: str, cancel: asyncio.Event) -> AsyncIterator[None]:
        path = self.root / f".{digest}.lock"
        while (fd := await asyncio.to_thread(_try_lock, path)) is None:
            if cancel.is_set():
                raise SetupCancelled
            await asyncio.sleep(LOCK_POLL_S)
        try:
            yield
        finally:
            await asyncio.to_thread(_unlock, fd)

    async def _build(
        self, digest: str, reqs: tuple[str, ...], link: Path, log: Path, cancel: asyncio.Event
    ) -> None:
        builds = self.root / ".builds"
        await asyncio.to_thread(_clear_builds, builds, digest)
        build = builds / f"{digest}-{uuid.uuid4().hex[:8]}"
        line = f"environment: creating virtualenv {digest[:12]}: {' '.join(reqs)}"
        await asyncio.to_thread(append_line, log, line)
        try:
            await self._step("python -m venv", [self.python, "-m", "venv", str(build)], log, cancel)
            await asyncio.to_thread((build / "requirements.txt").write_text, "\n".join(reqs) + "\n")
            pip = [str(build / "bin" / "python"), "-m", "pip", "install", "--no-input"]
            pip += ["--disable-pip-version-check", "-r", str(build / "requirements.txt")]
            await self._step("pip install", pip, log, cancel)
            await asyncio.to_thread(_publish, build, link)
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, build, True)
            raise
        await asyncio.to_thread(append_line, log, f"environment: virtualenv ready at {link}")

    async def _step(self, what: str, argv: list[str], log: Path, cancel: asyncio.Event) -> None:
        spec = ProcessSpec(argv, self.root, self.setup_env, log, self.timeout_s, self.grace_s)
        outcome = await run_process(spec, cancel)
        if outcome.cancelled:
            raise SetupCancelled
        if outcome.timed_out:
            raise EnvironmentFailed(f"environment: {what} timed out after {self.timeout_s:g} s")
        if outcome.error or outcome.exit_code != 0:
            said = outcome.error or last_line(await asyncio.to_thread(log.read_text, "utf-8"))
            raise EnvironmentFailed(f"environment: {what} failed: {said}")


class ProcessRuntime:
    """Runs the command as a local process group, with the service's Python or a virtualenv."""

    def __init__(self, venvs: Venvs, base_env: dict[str, str]) -> None:
        self.venvs, self.base_env = venvs, base_env

    async def prepare(self, env: EnvSpec, log: Path, cancel: asyncio.Event) -> Prepared:
        if not env.requirements:
            python = self.venvs.python
            return Prepared(python, self.base_env, {"runtime": PROCESS, "python": python})
        digest, folder = await self.venvs.ensure(env.requirements, log, cancel)
        python, bin_dir = str(folder / "bin" / "python"), str(folder / "bin")
        path = os.pathsep.join(p for p in (bin_dir, self.base_env.get("PATH")) if p)
        base_env = {**self.base_env, "PATH": path, "VIRTUAL_ENV": str(folder)}
        record = {"runtime": PROCESS, "env_digest": digest, "python": python}
        return Prepared(python, base_env, record)

    async def run(self, launch: Launch, cancel: asyncio.Event) -> Outcome:
        return await run_process(launch.spec, cancel)

    async def sweep(self, active: Callable[[str], Awaitable[bool]]) -> int:
        return 0  # a process group never outlives its run

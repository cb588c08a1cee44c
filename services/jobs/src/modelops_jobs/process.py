"""One local process per run: its own process group, output into a log file, timeout, cancel."""

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessSpec:
    """What to start, where, with which environment, for how long at most."""

    argv: list[str]
    cwd: Path
    env: dict[str, str]
    log_path: Path
    timeout_s: float
    grace_s: float = 5.0
    """After SIGTERM, how long the group may take to exit before SIGKILL."""


@dataclass(frozen=True)
class Outcome:
    """How the process ended."""

    exit_code: int | None
    timed_out: bool = False
    cancelled: bool = False
    error: str | None = None
    """The process could not be started (e.g. the command does not exist)."""


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def _stop(proc: asyncio.subprocess.Process, grace_s: float) -> None:
    """SIGTERM the whole group, then SIGKILL it if it lingers."""
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), grace_s)
    except TimeoutError:
        _signal_group(proc.pid, signal.SIGKILL)
        await proc.wait()
    _signal_group(proc.pid, signal.SIGKILL)  # children that ignored SIGTERM


async def _start(spec: ProcessSpec) -> asyncio.subprocess.Process:
    with spec.log_path.open("ab") as log:
        return await asyncio.create_subprocess_exec(
            *spec.argv,
            cwd=spec.cwd,
            env=spec.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed as a whole
        )


async def run_process(spec: ProcessSpec, cancel: asyncio.Event) -> Outcome:
    """Run to the end, the timeout or a cancel; the process group never outlives this call."""
    try:
        proc = await _start(spec)
    except OSError as exc:
        return Outcome(exit_code=None, error=f"cannot start {spec.argv[0]!r}: {exc}")
    waiter = asyncio.ensure_future(proc.wait())
    cancelled = asyncio.ensure_future(cancel.wait())
    try:
        done, _ = await asyncio.wait(
            {waiter, cancelled}, timeout=spec.timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        cancelled.cancel()
        if proc.returncode is None:
            await asyncio.shield(_stop(proc, spec.grace_s))
        waiter.cancel()
    if waiter in done:
        return Outcome(exit_code=proc.returncode)
    return Outcome(exit_code=proc.returncode, timed_out=not done, cancelled=bool(done))

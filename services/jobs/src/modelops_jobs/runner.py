"""The runs this process holds: a bounded number execute at once; the rest wait, queued.

While it holds a run the runner beats its heartbeat; a run whose holder stopped beating (the
service crashed or was killed) is failed by the sweep: it is never resumed or retried.
"""

import asyncio
from collections.abc import Callable, Mapping
from datetime import timedelta

import structlog

from modelops_contracts.events import RunFailed
from modelops_contracts.types import RunState
from modelops_jobs import domain
from modelops_jobs.domain import now
from modelops_jobs.environments import Runtime
from modelops_jobs.execution import Execution, ExecutionConfig
from modelops_jobs.ports import Artifacts, Document, InputSources, Runs

log = structlog.get_logger(__name__)
RESTARTED = "the jobs service restarted during the run"


class Runner:
    """Starts, cancels and watches the runs of this process."""

    def __init__(
        self,
        runs: Runs,
        store: Artifacts,
        sources: InputSources,
        config: ExecutionConfig,
        runtimes: Mapping[str, Runtime],
        *,
        max_concurrent: int,
        heartbeat_s: float,
        stale_after_s: float,
        kick: Callable[[], None] = lambda: None,
    ) -> None:
        self.runs, self.store, self.sources, self.config = runs, store, sources, config
        self.runtimes = runtimes
        self._leftovers_swept = False
        self.heartbeat_s, self.stale_after_s, self.kick = heartbeat_s, stale_after_s, kick
        self._slots = asyncio.Semaphore(max_concurrent)
        self._held: dict[str, Execution] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, run: Document) -> None:
        """Queue the run here; it starts as soon as a slot is free."""
        execution = Execution(self.runs, self.store, self.sources, self.config, self.runtimes, run)
        self._held[execution.run_id] = execution
        task = asyncio.create_task(self._run(execution), name=f"run-{execution.run_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, execution: Execution) -> None:
        try:
            async with self._slots:
                await execution.execute()
        finally:
            self._held.pop(execution.run_id, None)
            self.kick()

    def log_path(self, run_id: str) -> str | None:
        """The live log of a run this process executes, if any."""
        execution = self._held.get(run_id)
        return str(execution.work.log) if execution and execution.work.log.exists() else None

    def holds(self, run_id: str) -> bool:
        return run_id in self._held

    def cancel(self, run_id: str) -> None:
        """Ask a held run to stop; its process group is terminated and it ends cancelled."""
        execution = self._held.get(run_id)
        if execution is not None:
            execution.cancel.set()

    async def sweep(self) -> int:
        """Fail the runs whose holder stopped beating; returns how many."""
        failed = 0
        for run in await self.runs.stale(now() - timedelta(seconds=self.stale_after_s)):
            if self.holds(run["run_id"]):
                continue
            event = RunFailed(run_id=run["run_id"], job_name=run["job_name"], reason=RESTARTED)
            fields = {"reason": RESTARTED, "ended_at": now()}
            if await self.runs.transition(
                run["run_id"], list(domain.ACTIVE), RunState.FAILED, fields, [event]
            ):
                failed += 1
                log.warning("orphan_run_failed", run_id=run["run_id"])
        if failed:
            self.kick()
        if failed or not self._leftovers_swept:
            self._leftovers_swept = True
            await self.sweep_leftovers()
        return failed

    async def active(self, run_id: str) -> bool:
        """Held here, or queued or running (held by another process, or not yet swept)."""
        if self.holds(run_id):
            return True
        run = await self.runs.get(run_id)
        return run is not None and RunState(run["state"]) in domain.ACTIVE

    async def sweep_leftovers(self) -> None:
        """At start and after orphans were failed: remove what their runs left (containers)."""
        for name, runtime in self.runtimes.items():
            try:
                await runtime.sweep(self.active)
            except Exception as exc:  # no engine here: nothing of this runtime to remove
                log.warning("leftover_sweep_failed", runtime=name, error=repr(exc))

    async def watch(self) -> None:
        """Beat for the held runs and sweep orphans; on shutdown, stop the held runs."""
        try:
            while True:
                try:
                    await self.runs.heartbeat(list(self._held), now())
                    await self.sweep()
                except Exception as exc:  # Mongo away: beat again next time
                    log.warning("run_heartbeat_failed", error=repr(exc))
                await asyncio.sleep(self.heartbeat_s)
        finally:
            await self.stop()

    async def stop(self) -> None:
        """Terminate every held run; each is recorded failed (the service stopped)."""
        for execution in self._held.values():
            execution.stopping = True
            execution.cancel.set()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.config.grace_s + 10)

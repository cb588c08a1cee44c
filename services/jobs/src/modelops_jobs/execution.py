"""One run's life on this machine: unpack the code, run the command, collect what it left."""

import asyncio
import shutil
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import structlog

from modelops_contracts.events import Event, RunCompleted, RunFailed, RunModelOutput, RunStarted
from modelops_contracts.events.model_version import Lineage
from modelops_contracts.types import Framework, RunState
from modelops_jobs import domain
from modelops_jobs.domain import now
from modelops_jobs.environments import (
    JOB_LABEL,
    RUN_LABEL,
    EnvironmentFailed,
    EnvSpec,
    Launch,
    Prepared,
    Runtime,
    SetupCancelled,
    Workdir,
    unpack,
)
from modelops_jobs.inputs import lineage_datasets
from modelops_jobs.ports import Artifacts, Document, InputSources, Runs
from modelops_jobs.process import Outcome, ProcessSpec
from modelops_servicekit.errors import Invalid, ModelOpsError
from modelops_servicekit.objects import blob_key

log = structlog.get_logger(__name__)
STOPPED = "the jobs service stopped during the run"


@dataclass(frozen=True)
class ExecutionConfig:
    """How runs execute here (from the settings)."""

    runs_dir: Path
    python: str
    base_env: dict[str, str]
    grace_s: float = 5.0
    log_tail_chars: int = 4000


def _read_text(path: Path) -> str:
    return path.read_text("utf-8", "replace") if path.is_file() else ""


class Execution:
    """Drives one run from queued to its end state; each change is one write with its event."""

    def __init__(
        self,
        runs: Runs,
        store: Artifacts,
        sources: InputSources,
        config: ExecutionConfig,
        runtimes: Mapping[str, Runtime],
        run: Document,
    ) -> None:
        self.runs, self.store, self.sources, self.config = runs, store, sources, config
        self.run = run
        self.env = EnvSpec.of(run)
        self.runtime = runtimes[self.env.runtime]
        self.used: list[Document] = []
        """The inputs fetched for this run, with their digests."""
        self.run_id: str = run["run_id"]
        self.work = Workdir(config.runs_dir / self.run_id)
        self.cancel = asyncio.Event()
        self.stopping = False

    def interrupted(self) -> tuple[RunState, str]:
        """Cancelled by a user, or failed because the service is stopping."""
        return (RunState.FAILED, STOPPED) if self.stopping else (RunState.CANCELLED, "cancelled")

    async def prepare(self) -> None:
        """A fresh folder: the code snapshot unpacked, the inputs fetched, no outputs yet."""
        for folder in (self.work.code, self.work.outputs):
            folder.mkdir(parents=True, exist_ok=True)
        self.work.log.touch()
        sha = self.run.get("code_sha256")
        if sha:
            archive = self.work.root / "code.tar.gz"
            await self.store.get_file(blob_key(sha), archive)
            try:
                await asyncio.to_thread(unpack, archive, self.work.code)
            except (tarfile.TarError, OSError) as exc:
                raise Invalid(f"the code snapshot cannot be unpacked: {exc}") from exc
            archive.unlink()
        for spec in self.run.get("inputs") or []:
            self.used.append(await self.sources.materialize(spec, self.input_dir(spec["name"])))

    def input_dir(self, name: str) -> Path:
        return self.work.inputs / name

    def spec(self, prepared: Prepared) -> ProcessSpec:
        run, cfg, work = self.run, self.config, self.work
        params: dict[str, str] = run["parameters"]
        env = {
            **prepared.base_env,
            **domain.parameter_env(params),
            "MODELOPS_RUN_ID": self.run_id,
            "MODELOPS_JOB_NAME": run["job_name"],
            "MODELOPS_OUTPUT_DIR": str(work.outputs),
            "MODELOPS_METRICS_FILE": str(work.metrics),
            "MODELOPS_INPUTS_DIR": str(work.inputs),
            **{domain.input_env(i["name"]): str(self.input_dir(i["name"])) for i in self.used},
        }
        argv = domain.command_line(run["command"], params, run["param_args"], prepared.python)
        return ProcessSpec(argv, work.code, env, work.log, run["timeout_s"], cfg.grace_s)

    def labels(self) -> dict[str, str]:
        return {RUN_LABEL: self.run_id, JOB_LABEL: self.run["job_name"]}

    async def setup(self) -> Prepared | None:
        """The run's environment; None if setting it up failed or was cancelled (run ended)."""
        try:
            return await self.runtime.prepare(self.env, self.work.log, self.cancel)
        except SetupCancelled:
            state, reason = self.interrupted()
        except EnvironmentFailed as exc:
            state, reason = RunState.FAILED, exc.message
        await self.end(state, {**await self._store_log(), "reason": reason}, reason)
        return None

    async def execute(self) -> None:
        """Prepare, start, wait, finish; the folder is removed whatever happens."""
        try:
            await self._execute()
        except Exception as exc:  # a broken snapshot, an input or a peer missing: fail the run
            log.exception("run_execution_failed", run_id=self.run_id)
            reason = exc.message if isinstance(exc, ModelOpsError) else f"internal error: {exc!r}"
            await self.end(RunState.FAILED, {"reason": reason}, reason)
        finally:
            await asyncio.to_thread(shutil.rmtree, self.work.root, True)

    async def _execute(self) -> None:
        if self.cancel.is_set():
            state, reason = self.interrupted()
            await self.end(state, {"reason": reason}, reason)
            return
        await self.prepare()
        prepared = await self.setup()
        if prepared is None:
            return
        cause = self.run.get("trigger_event") or {}
        started = RunStarted(
            run_id=self.run_id,
            job_name=self.run["job_name"],
            trigger=self.run.get("trigger", "manual"),
            trigger_event_id=cause.get("event_id"),
        )
        fields = {"started_at": now(), "heartbeat_at": now(), "inputs_used": self.used}
        fields["environment_used"] = prepared.record
        if not await self.runs.transition(
            self.run_id, [RunState.QUEUED], RunState.RUNNING, fields, [started]
        ):
            return  # cancelled (or failed by a sweep) while it waited
        log.info("run_started", run_id=self.run_id, job_name=self.run["job_name"])
        launch = Launch(self.spec(prepared), self.work, self.env, prepared, self.labels())
        await self.finish(await self.runtime.run(launch, self.cancel))

    async def finish(self, outcome: Outcome) -> None:
        """Store the log and metrics, upload outputs, and record the end state with its event."""
        points, rejected = domain.parse_metrics(await self._read(self.work.metrics))
        fields: Document = {
            **await self._store_log(),
            "exit_code": outcome.exit_code,
            "metrics": [p.as_doc() for p in points],
            "metric_summary": domain.latest_values(points),
            "metrics_rejected": rejected,
        }
        if outcome.cancelled:
            state, reason = self.interrupted()
            await self.end(state, {**fields, "reason": reason}, reason)
        elif outcome.error or outcome.timed_out or outcome.exit_code != 0:
            reason = outcome.error or domain.failure_reason(
                outcome.exit_code, outcome.timed_out, self.run["timeout_s"]
            )
            await self.end(RunState.FAILED, {**fields, "reason": reason}, reason)
        else:
            await self.complete(fields)

    async def _store_log(self) -> Document:
        """Upload the run's log; the field that names it."""
        log_key = f"runs/{self.run_id}/log.txt"
        await self.store.put_file(self.work.log, log_key)
        return {"log_key": log_key}

    async def complete(self, fields: Document) -> None:
        try:
            outputs = [await self._upload(spec) for spec in self.run["outputs"]]
        except Invalid as exc:
            await self.end(RunState.FAILED, {**fields, "reason": exc.message}, exc.message)
            return
        event = RunCompleted(
            run_id=self.run_id,
            job_name=self.run["job_name"],
            metrics=fields["metric_summary"],
            outputs=outputs,
            lineage=Lineage(
                run_id=self.run_id,
                experiment=self.run["job_name"],
                datasets=lineage_datasets(self.used),
            ),
        )
        fields = {**fields, "ended_at": now(), "output_uris": [o.artifact_uri for o in outputs]}
        await self._move(RunState.COMPLETED, fields, [event])
        log.info("run_completed", run_id=self.run_id, outputs=len(outputs))

    async def _upload(self, spec: Document) -> RunModelOutput:
        """Upload one declared output (a file or a folder) to runs/<id>/outputs/<path>."""
        path = self.work.outputs / spec["path"]
        prefix = f"runs/{self.run_id}/outputs/{spec['path']}"
        if path.is_file():
            await self.store.put_file(path, prefix)
            uri = f"s3://{self.store.bucket}/{prefix}"
        elif path.is_dir() and (files := sorted(p for p in path.rglob("*") if p.is_file())):
            for file in files:
                await self.store.put_file(file, f"{prefix}/{file.relative_to(path).as_posix()}")
            uri = f"s3://{self.store.bucket}/{prefix}/"
        else:
            raise Invalid(f"declared output {spec['path']!r} was not written (or is empty)")
        tags = {**spec.get("tags", {}), "job": self.run["job_name"], "run_id": self.run_id}
        return RunModelOutput(
            model_name=spec["model_name"],
            artifact_uri=uri,
            framework=Framework(spec["framework"]),
            auto_register=spec["auto_register"],
            tags=tags,
        )

    async def end(self, state: RunState, fields: Document, reason: str) -> None:
        """Record a failure or cancellation, with its `run.failed` event."""
        log_tail = domain.tail(await self._text(self.work.log), self.config.log_tail_chars)
        event = RunFailed(
            run_id=self.run_id,
            job_name=self.run["job_name"],
            reason=reason,
            log_tail=log_tail,
            cancelled=state is RunState.CANCELLED,
        )
        await self._move(state, {**fields, "ended_at": now()}, [event])
        log.info("run_ended", run_id=self.run_id, state=state.value, reason=reason)

    async def _move(self, state: RunState, fields: Document, events: list[Event]) -> None:
        allowed = [s for s in domain.ACTIVE if state in domain.TRANSITIONS[s]]
        await self.runs.transition(self.run_id, allowed, state, fields, events)

    async def _text(self, path: Path) -> str:
        return await asyncio.to_thread(_read_text, path)

    async def _read(self, path: Path) -> list[str]:
        return (await self._text(path)).splitlines()

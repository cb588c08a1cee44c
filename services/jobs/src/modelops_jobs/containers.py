"""Container runs: the builder's environment image, the run's folder copied in under /run, the
command run with its CPU and memory limits and its output followed into the run's log; then
the outputs and metrics file copied back, so the run ends as a process run does. The container
is always removed. The engine stays behind the Containers port."""

import asyncio
import contextlib
import tarfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog

from modelops_jobs.environments import (
    CONTAINER,
    CONTAINER_ENV,
    CONTAINER_PYTHON,
    CONTAINER_ROOT,
    SCOPE_LABEL,
    Containers,
    ContainerSpec,
    EnvironmentImages,
    EnvSpec,
    Launch,
    Prepared,
    Workdir,
    container_spec,
    unless_cancelled,
    unpack,
)
from modelops_jobs.process import Outcome

log = structlog.get_logger(__name__)
LOG_DRAIN_S = 10.0


def pack_run_folder(work: Workdir, tar_path: Path) -> None:
    """A tar of the run's code, inputs and (empty) outputs folder, as run/... for `/`."""
    with tarfile.open(tar_path, "w") as tar:
        tar.addfile(_folder("run"))
        for folder in (work.code, work.inputs, work.outputs):
            if folder.is_dir():
                tar.add(folder, arcname=f"run/{folder.name}")
            else:
                tar.addfile(_folder(f"run/{folder.name}"))


def _folder(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o777
    return info


class ContainerRuntime:
    """Runs the command in a container of the job's environment image."""

    def __init__(
        self,
        images: EnvironmentImages,
        containers: Containers,
        *,
        network_mode: str,
        scope: str,
        poll_s: float = 0.25,
    ) -> None:
        self.images, self.containers = images, containers
        self.network_mode, self.scope, self.poll_s = network_mode, scope, poll_s

    async def prepare(self, env: EnvSpec, log: Path, cancel: asyncio.Event) -> Prepared:
        ensure = self.images.ensure(env.requirements, env.base_image, log)
        image, digest = await unless_cancelled(ensure, cancel)
        record = {"runtime": CONTAINER, "env_digest": digest, "image": image}
        return Prepared(CONTAINER_PYTHON, dict(CONTAINER_ENV), record)

    def container(self, launch: Launch) -> ContainerSpec:
        """What to create: the command with its paths under /run, labelled with its run."""
        spec = container_spec(launch.spec, launch.work.root)
        return ContainerSpec(
            image=launch.prepared.record["image"],
            argv=spec.argv,
            env=spec.env,
            workdir=str(spec.cwd),
            labels={**launch.labels, SCOPE_LABEL: self.scope},
            network_mode=self.network_mode,
            cpus=launch.env.cpus,
            memory_mb=launch.env.memory_mb,
        )

    async def run(self, launch: Launch, cancel: asyncio.Event) -> Outcome:
        engine, work = self.containers, launch.work
        try:
            cid = await asyncio.to_thread(engine.create, self.container(launch))
        except Exception as exc:  # the engine refused it (no such image, a bad limit)
            return Outcome(exit_code=None, error=f"cannot create the container: {exc}")
        try:
            packed = work.root / "container-in.tar"
            await asyncio.to_thread(pack_run_folder, work, packed)
            await asyncio.to_thread(engine.copy_in, cid, "/", packed)
            await asyncio.to_thread(packed.unlink)
            await asyncio.to_thread(engine.start, cid)
            follower = asyncio.ensure_future(asyncio.to_thread(engine.follow_logs, cid, work.log))
            outcome = await self._wait(cid, launch, cancel)
            await asyncio.wait({follower}, timeout=LOG_DRAIN_S)
            await self._copy_back(cid, work)
            return outcome
        finally:
            await asyncio.shield(asyncio.to_thread(engine.remove, cid))

    async def _wait(self, cid: str, launch: Launch, cancel: asyncio.Event) -> Outcome:
        """Poll until it exits; past the timeout, or once cancelled, stop it."""
        deadline = time.monotonic() + launch.spec.timeout_s
        while (code := await asyncio.to_thread(self.containers.exit_code, cid)) is None:
            if cancel.is_set() or time.monotonic() > deadline:
                await asyncio.to_thread(self.containers.stop, cid, launch.spec.grace_s)
                code = await asyncio.to_thread(self.containers.exit_code, cid)
                cancelled = cancel.is_set()
                return Outcome(exit_code=code, timed_out=not cancelled, cancelled=cancelled)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(cancel.wait(), self.poll_s)
        return Outcome(exit_code=code)

    async def _copy_back(self, cid: str, work: Workdir) -> None:
        """/run/outputs and /run/metrics.jsonl into the run's folder, where finish() reads."""
        for name in (work.outputs.name, work.metrics.name):
            tar = work.root / f"container-{name}.tar"
            if await asyncio.to_thread(
                self.containers.copy_out, cid, f"{CONTAINER_ROOT}/{name}", tar
            ):
                await asyncio.to_thread(unpack, tar, work.root)
                await asyncio.to_thread(tar.unlink)

    async def sweep(self, active: Callable[[str], Awaitable[bool]]) -> int:
        """Remove this service's run containers whose run is no longer active."""
        removed = 0
        for cid, run_id in await asyncio.to_thread(
            self.containers.labelled, SCOPE_LABEL, self.scope
        ):
            if not await active(run_id):
                await asyncio.to_thread(self.containers.remove, cid)
                log.warning("leftover_run_container_removed", run_id=run_id, container=cid[:12])
                removed += 1
        return removed

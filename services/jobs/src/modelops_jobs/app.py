"""Composition root of the jobs: the only module that builds adapters."""

import os
import sys
from typing import cast

from fastapi import FastAPI

import modelops_jobs
from modelops_jobs import api, api_promotions, promoting, subscribers, triggering
from modelops_jobs.app_deps import Deps
from modelops_jobs.app_runtimes import run_runtimes
from modelops_jobs.execution import ExecutionConfig
from modelops_jobs.inputs import PeerInputs
from modelops_jobs.repository import MongoClaims, MongoJobs, MongoRuns
from modelops_jobs.repository_promotions import MongoPolicies, MongoPromotions
from modelops_jobs.runner import Runner
from modelops_jobs.settings import JobsSettings
from modelops_servicekit.inbox import Inbox
from modelops_servicekit.peers import (
    CollectorWindows,
    DeployerShadows,
    RegistryDatasets,
    RegistryModels,
)
from modelops_servicekit.runtime import Runtime, Wiring, create_service_app


def execution_config(settings: JobsSettings) -> ExecutionConfig:
    """How runs execute; their environment is only what `inherit_env` names."""
    base_env = {k: os.environ[k] for k in settings.inherit_env if k in os.environ}
    return ExecutionConfig(
        runs_dir=settings.runs_dir,
        python=sys.executable,
        base_env=base_env,
        grace_s=settings.kill_grace_s,
        log_tail_chars=settings.log_tail_chars,
    )


async def wire(runtime: Runtime, app: FastAPI) -> Wiring:
    settings = cast(JobsSettings, runtime.settings)
    jobs, runs, inbox = MongoJobs(runtime.db), MongoRuns(runtime.db), Inbox(runtime.db)
    for repo in (jobs, runs, inbox):
        await repo.ensure_indexes()

    def kick() -> None:
        if runtime.relay is not None:
            runtime.relay.kick()

    datasets = RegistryDatasets(settings.registry_url)
    config = execution_config(settings)
    windows = CollectorWindows(settings.collector_url)
    runner = Runner(
        runs,
        runtime.objects,
        PeerInputs(datasets, windows, settings.holdout_fraction),
        config,
        run_runtimes(settings, config),
        max_concurrent=settings.max_concurrent_runs,
        heartbeat_s=settings.heartbeat_s,
        stale_after_s=settings.stale_after_s,
        kick=kick,
    )
    claims, promotions = MongoClaims(runtime.db), MongoPromotions(runtime.db)
    await promotions.ensure_indexes()
    deps = Deps(
        settings,
        inbox,
        runtime.publisher,
        jobs,
        runs,
        runtime.objects,
        runner,
        claims,
        policies=MongoPolicies(runtime.db),
        promotions=promotions,
        models=RegistryModels(settings.registry_url),
        datasets=datasets,
        windows=windows,
        shadows=DeployerShadows(settings.deployer_url, timeout_s=30.0),
    )
    app.state.deps = deps
    router = subscribers.build_router(runtime, deps)

    async def schedule() -> None:
        await triggering.schedule_loop(deps)

    async def shadows() -> None:
        await promoting.shadow_loop(deps)

    background = [runner.watch, schedule, shadows]
    outbox = [runs.collection, promotions.collection]
    return Wiring(router=router, outbox=outbox, background=background)


def create_app(settings: JobsSettings) -> FastAPI:
    """The jobs's ASGI app."""
    description = str(modelops_jobs.__doc__)
    return create_service_app(
        settings, wire=wire, routers=[api.router, api_promotions.router], description=description
    )

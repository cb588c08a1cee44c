"""Composition root of the drift monitor: the only module that builds adapters."""

import asyncio
from datetime import UTC, datetime

import structlog
from fastapi import FastAPI

import modelops_drift_monitor
from modelops_drift_monitor import api, api_plots, handlers, subscribers
from modelops_drift_monitor.app_deps import Deps
from modelops_drift_monitor.repository import MongoMonitors, MongoRuns
from modelops_drift_monitor.settings import DriftMonitorSettings
from modelops_servicekit.inbox import Inbox
from modelops_servicekit.peers import CollectorWindows, RegistryDatasets
from modelops_servicekit.runtime import Runtime, Wire, Wiring, create_service_app

log = structlog.get_logger(__name__)


def _wire(settings: DriftMonitorSettings) -> Wire:
    async def wire(runtime: Runtime, app: FastAPI) -> Wiring:
        settings.cache_dir.mkdir(parents=True, exist_ok=True)
        monitors, runs = MongoMonitors(runtime.db), MongoRuns(runtime.db)
        deps = Deps(
            inbox=Inbox(runtime.db),
            events=runtime.publisher,
            monitors=monitors,
            runs=runs,
            objects=runtime.objects,
            datasets=RegistryDatasets(settings.registry_url),
            windows=CollectorWindows(settings.collector_url),
            cache_dir=settings.cache_dir,
            evidently_sample_rows=settings.evidently_sample_rows,
            workers=settings.workers,
            kick=lambda: runtime.relay.kick() if runtime.relay else None,
        )
        await deps.inbox.ensure_indexes()
        await monitors.ensure_indexes()
        await runs.ensure_indexes()
        app.state.deps = deps

        async def monitor_schedules() -> None:
            await run_schedules(deps, settings.schedule_tick_s)

        return Wiring(
            router=subscribers.build_router(runtime, deps),
            outbox=[runs.collection],
            background=[monitor_schedules],
        )

    return wire


async def run_schedules(deps: Deps, tick_s: float) -> None:
    """Every tick, run the monitors whose interval or cron time has come."""
    while True:
        await asyncio.sleep(tick_s)
        try:
            await handlers.run_scheduled(deps, datetime.now(UTC))
        except Exception as exc:  # one failed sweep must not stop the schedule
            log.warning("scheduled_runs_failed", error=repr(exc))


def create_app(settings: DriftMonitorSettings) -> FastAPI:
    """The drift monitor's ASGI app."""
    description = str(modelops_drift_monitor.__doc__)
    return create_service_app(
        settings,
        wire=_wire(settings),
        routers=[api.router, api_plots.router],
        description=description,
    )

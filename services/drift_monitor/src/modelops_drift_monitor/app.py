"""Composition root of the drift monitor: the only module that builds adapters."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import structlog
from fastapi import FastAPI

import modelops_drift_monitor
from modelops_drift_monitor import api, handlers, subscribers
from modelops_drift_monitor.app_deps import Deps
from modelops_drift_monitor.repository import MongoMonitors, MongoRuns
from modelops_drift_monitor.settings import DriftMonitorSettings
from modelops_drift_monitor.sources import CollectorWindows, RegistryDatasets
from modelops_servicekit.inbox import Inbox
from modelops_servicekit.runtime import Runtime, Wiring, create_service_app

log = structlog.get_logger(__name__)


def _wire(settings: DriftMonitorSettings):  # type: ignore[no-untyped-def]  # returns a Wire
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
        return Wiring(router=subscribers.build_router(runtime, deps), outbox=[runs.collection])

    return wire


async def _scheduler(app: FastAPI, tick_s: float) -> None:
    while True:
        await asyncio.sleep(tick_s)
        try:
            await handlers.run_due(app.state.deps, datetime.now(UTC))
        except Exception as exc:  # one failed sweep must not stop the schedule
            log.warning("scheduled_runs_failed", error=repr(exc))


def create_app(settings: DriftMonitorSettings) -> FastAPI:
    """The drift monitor's ASGI app."""
    description = str(modelops_drift_monitor.__doc__)
    app = create_service_app(
        settings, wire=_wire(settings), routers=[api.router], description=description
    )
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[None]:
        async with inner(a):
            task = asyncio.create_task(_scheduler(a, settings.schedule_tick_s))
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app.router.lifespan_context = lifespan
    return app

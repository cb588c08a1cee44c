"""Composition root of the data collector: the only module that builds adapters."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import structlog
from fastapi import FastAPI

import modelops_data_collector
from modelops_data_collector import api, handlers, subscribers
from modelops_data_collector.app_deps import Deps
from modelops_data_collector.intake import Intake
from modelops_data_collector.repository import BucketObjects, MongoFeedback, MongoWindows
from modelops_data_collector.settings import DataCollectorSettings
from modelops_servicekit.runtime import Runtime, Wire, Wiring, create_service_app

log = structlog.get_logger(__name__)


def _wire(settings: DataCollectorSettings) -> Wire:
    async def wire(runtime: Runtime, app: FastAPI) -> Wiring:
        windows, feedback = MongoWindows(runtime.db), MongoFeedback(runtime.db)
        deps = Deps(
            objects=BucketObjects(runtime.objects),
            windows=windows,
            feedback=feedback,
            kick=lambda: runtime.relay.kick() if runtime.relay else None,
            window_grace_s=settings.window_grace_s,
            feedback_max_rows=settings.feedback_max_rows,
            page_size=settings.page_size,
        )
        await windows.ensure_indexes()
        app.state.deps = deps
        app.state.intake = Intake(runtime, settings, deps)
        return Wiring(router=subscribers.build_router(runtime, deps), outbox=[windows.collection])

    return wire


async def _closer(app: FastAPI, tick_s: float) -> None:
    while True:
        await asyncio.sleep(tick_s)
        try:
            await handlers.close_due(app.state.deps, datetime.now(UTC))
        except Exception as exc:  # one failed sweep must not stop the closing of windows
            log.warning("window_close_failed", error=repr(exc))


def create_app(settings: DataCollectorSettings) -> FastAPI:
    """The data collector's ASGI app."""
    description = str(modelops_data_collector.__doc__)
    app = create_service_app(
        settings, wire=_wire(settings), routers=[api.router], description=description
    )
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[None]:
        async with inner(a):
            intake: Intake = a.state.intake
            await intake.start()
            closer = asyncio.create_task(_closer(a, settings.close_tick_s))
            try:
                yield
            finally:
                closer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await closer
                await intake.stop()

    app.router.lifespan_context = lifespan
    return app

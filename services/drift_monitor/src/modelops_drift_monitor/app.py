"""Composition root of the drift monitor: the only module that builds adapters."""

from fastapi import FastAPI

import modelops_drift_monitor
from modelops_drift_monitor import subscribers
from modelops_drift_monitor.app_deps import Deps
from modelops_drift_monitor.settings import DriftMonitorSettings
from modelops_servicekit.inbox import Inbox
from modelops_servicekit.runtime import Runtime, Wiring, create_service_app


async def wire(runtime: Runtime, app: FastAPI) -> Wiring:
    deps = Deps(inbox=Inbox(runtime.db), events=runtime.publisher)
    await deps.inbox.ensure_indexes()
    app.state.deps = deps
    return Wiring(router=subscribers.build_router(runtime, deps))


def create_app(settings: DriftMonitorSettings) -> FastAPI:
    """The drift monitor's ASGI app."""
    description = str(modelops_drift_monitor.__doc__)
    return create_service_app(settings, wire=wire, description=description)

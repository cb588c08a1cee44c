"""Composition root of the data collector: the only module that builds adapters."""

from fastapi import FastAPI

import modelops_data_collector
from modelops_data_collector import subscribers
from modelops_data_collector.app_deps import Deps
from modelops_data_collector.settings import DataCollectorSettings
from modelops_servicekit.inbox import Inbox
from modelops_servicekit.runtime import Runtime, Wiring, create_service_app


async def wire(runtime: Runtime, app: FastAPI) -> Wiring:
    deps = Deps(inbox=Inbox(runtime.db), events=runtime.publisher)
    await deps.inbox.ensure_indexes()
    app.state.deps = deps
    return Wiring(router=subscribers.build_router(runtime, deps))


def create_app(settings: DataCollectorSettings) -> FastAPI:
    """The data collector's ASGI app."""
    description = str(modelops_data_collector.__doc__)
    return create_service_app(settings, wire=wire, description=description)

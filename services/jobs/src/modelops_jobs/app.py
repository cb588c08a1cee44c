"""Composition root of the jobs: the only module that builds adapters."""

from fastapi import FastAPI

import modelops_jobs
from modelops_jobs import subscribers
from modelops_jobs.app_deps import Deps
from modelops_jobs.settings import JobsSettings
from modelops_servicekit.inbox import Inbox
from modelops_servicekit.runtime import Runtime, Wiring, create_service_app


async def wire(runtime: Runtime, app: FastAPI) -> Wiring:
    deps = Deps(inbox=Inbox(runtime.db), events=runtime.publisher)
    await deps.inbox.ensure_indexes()
    app.state.deps = deps
    return Wiring(router=subscribers.build_router(runtime, deps))


def create_app(settings: JobsSettings) -> FastAPI:
    """The jobs's ASGI app."""
    description = str(modelops_jobs.__doc__)
    return create_service_app(settings, wire=wire, description=description)

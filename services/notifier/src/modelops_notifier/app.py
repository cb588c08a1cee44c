"""Composition root of the notifier: the only module that builds adapters."""

from fastapi import FastAPI

import modelops_notifier
from modelops_notifier import subscribers
from modelops_notifier.app_deps import Deps
from modelops_notifier.settings import NotifierSettings
from modelops_servicekit.inbox import Inbox
from modelops_servicekit.runtime import Runtime, Wiring, create_service_app


async def wire(runtime: Runtime, app: FastAPI) -> Wiring:
    deps = Deps(inbox=Inbox(runtime.db), events=runtime.publisher)
    await deps.inbox.ensure_indexes()
    app.state.deps = deps
    return Wiring(router=subscribers.build_router(runtime, deps))


def create_app(settings: NotifierSettings) -> FastAPI:
    """The notifier's ASGI app."""
    description = str(modelops_notifier.__doc__)
    return create_service_app(settings, wire=wire, description=description)

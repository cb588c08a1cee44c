"""Composition root of the deployer: the only module that builds adapters."""

from fastapi import FastAPI

import modelops_deployer
from modelops_deployer import subscribers
from modelops_deployer.app_deps import Deps
from modelops_deployer.settings import DeployerSettings
from modelops_servicekit.inbox import Inbox
from modelops_servicekit.runtime import Runtime, Wiring, create_service_app


async def wire(runtime: Runtime, app: FastAPI) -> Wiring:
    deps = Deps(inbox=Inbox(runtime.db), events=runtime.publisher)
    await deps.inbox.ensure_indexes()
    app.state.deps = deps
    return Wiring(router=subscribers.build_router(runtime, deps))


def create_app(settings: DeployerSettings) -> FastAPI:
    """The deployer's ASGI app."""
    description = str(modelops_deployer.__doc__)
    return create_service_app(settings, wire=wire, description=description)

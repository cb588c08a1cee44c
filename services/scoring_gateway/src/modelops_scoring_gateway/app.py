"""Composition root of the scoring gateway: the only module that builds adapters."""

from fastapi import FastAPI

import modelops_scoring_gateway
from modelops_scoring_gateway import subscribers
from modelops_scoring_gateway.app_deps import Deps
from modelops_scoring_gateway.settings import ScoringGatewaySettings
from modelops_servicekit.inbox import Inbox
from modelops_servicekit.runtime import Runtime, Wiring, create_service_app


async def wire(runtime: Runtime, app: FastAPI) -> Wiring:
    deps = Deps(inbox=Inbox(runtime.db), events=runtime.publisher)
    await deps.inbox.ensure_indexes()
    app.state.deps = deps
    return Wiring(router=subscribers.build_router(runtime, deps))


def create_app(settings: ScoringGatewaySettings) -> FastAPI:
    """The scoring gateway's ASGI app."""
    description = str(modelops_scoring_gateway.__doc__)
    return create_service_app(settings, wire=wire, description=description)

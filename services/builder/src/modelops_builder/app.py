"""Composition root of the builder: the only module that builds adapters."""

from fastapi import FastAPI

import modelops_builder
from modelops_builder import api, api_environments, api_models, subscribers
from modelops_builder.app_deps import Deps
from modelops_builder.conversion import Converter
from modelops_builder.engine import DockerEngine
from modelops_builder.packaging import Packager
from modelops_builder.profiling import Profiler
from modelops_builder.registry_client import HttpRegistry
from modelops_builder.repository import MongoBuilderStore
from modelops_builder.settings import BuilderSettings
from modelops_servicekit.inbox import Inbox
from modelops_servicekit.runtime import Runtime, Wiring, create_service_app


async def wire(runtime: Runtime, app: FastAPI) -> Wiring:
    settings = runtime.settings
    assert isinstance(settings, BuilderSettings)
    store = MongoBuilderStore(runtime.db)
    await store.ensure_indexes()
    registry = HttpRegistry(settings.registry_url)
    engine = DockerEngine(settings.docker.host)

    def kick() -> None:
        if runtime.relay is not None:
            runtime.relay.kick()

    packager = Packager(settings, store, registry, engine, runtime.objects, kick)
    deps = Deps(
        settings=settings,
        inbox=Inbox(runtime.db),
        events=runtime.publisher,
        store=store,
        packager=packager,
        converter=Converter(settings, store, registry),
        profiler=Profiler(settings, store, engine, runtime.objects, kick),
    )
    await deps.inbox.ensure_indexes()
    app.state.deps = deps
    return Wiring(
        router=subscribers.build_router(runtime, deps), outbox=[store.images, store.profiles]
    )


def create_app(settings: BuilderSettings) -> FastAPI:
    """The builder's ASGI app."""
    description = str(modelops_builder.__doc__)
    return create_service_app(
        settings,
        wire=wire,
        routers=[api.router, api_models.router, api_environments.router],
        description=description,
    )

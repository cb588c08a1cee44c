"""The jobs's durable consumers: one per event type it consumes."""

from faststream.nats import NatsRouter

from modelops_contracts.events import (
    CollectionWindowClosed,
    DriftDetected,
    Event,
    ModelVersionRegistered,
    PerformanceDegraded,
)
from modelops_jobs import promoting
from modelops_jobs.app_deps import Deps
from modelops_jobs.triggering import on_event
from modelops_servicekit.runtime import Runtime


def build_router(runtime: Runtime, deps: Deps) -> NatsRouter:
    """Wire each consumed event to its handler."""
    router = NatsRouter()

    async def handle(event: Event) -> None:
        await on_event(deps, event)

    async def on_registered(event: ModelVersionRegistered) -> None:
        await promoting.on_version_registered(
            deps, event.model_name, event.version, str(event.event_id)
        )

    for event_cls in (DriftDetected, PerformanceDegraded, CollectionWindowClosed):
        runtime.consume(router, event_cls, handle)
    runtime.consume(router, ModelVersionRegistered, on_registered)
    return router

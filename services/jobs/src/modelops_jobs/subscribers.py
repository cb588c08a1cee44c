"""The jobs's durable consumers: one per event type it consumes."""

from faststream.nats import NatsRouter

from modelops_contracts.events import (
    CollectionWindowClosed,
    DriftDetected,
    Event,
    PerformanceDegraded,
)
from modelops_jobs.app_deps import Deps
from modelops_jobs.triggering import on_event
from modelops_servicekit.runtime import Runtime


def build_router(runtime: Runtime, deps: Deps) -> NatsRouter:
    """Wire each consumed event to its handler."""
    router = NatsRouter()

    async def handle(event: Event) -> None:
        await on_event(deps, event)

    for event_cls in (DriftDetected, PerformanceDegraded, CollectionWindowClosed):
        runtime.consume(router, event_cls, handle)
    return router

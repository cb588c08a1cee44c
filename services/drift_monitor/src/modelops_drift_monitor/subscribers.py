"""The drift monitor's durable consumers: one per event type it consumes."""

from faststream.nats import NatsRouter

from modelops_contracts.events import (
    CollectionWindowClosed,
    DatasetVersionRegistered,
    ModelPromoted,
)
from modelops_drift_monitor import handlers
from modelops_drift_monitor.app_deps import Deps
from modelops_servicekit.runtime import Runtime


def build_router(runtime: Runtime, deps: Deps) -> NatsRouter:
    """Wire each consumed event to its handler."""
    router = NatsRouter()

    async def on_window_closed(event: CollectionWindowClosed) -> None:
        await handlers.on_window_closed(deps, event)

    async def on_dataset_registered(event: DatasetVersionRegistered) -> None:
        await deps.inbox.record(event)  # baselines are summarised when a monitor is created

    async def on_model_promoted(event: ModelPromoted) -> None:
        await handlers.on_model_promoted(deps, event)

    runtime.consume(router, CollectionWindowClosed, on_window_closed)
    runtime.consume(router, ModelPromoted, on_model_promoted)
    runtime.consume(router, DatasetVersionRegistered, on_dataset_registered)
    return router

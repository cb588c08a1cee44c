"""The notifier's durable consumer: every lifecycle subject, fanned out into deliveries."""

from faststream.nats import NatsRouter

from modelops_contracts.events import Event
from modelops_notifier import handlers
from modelops_notifier.app_deps import Deps
from modelops_servicekit.runtime import Runtime


def build_router(runtime: Runtime, deps: Deps, workers: int = 16) -> NatsRouter:
    """One durable consumer of `modelops.>`, parsed through the catalog."""
    router = NatsRouter()

    async def on_any_event(event: Event) -> None:
        await handlers.on_event(event, deps.notifier)

    runtime.consume_all(router, on_any_event, batch_size=1, workers=workers)
    return router

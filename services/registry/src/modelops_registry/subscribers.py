"""The registry's durable consumers: one per event type it consumes."""

from collections.abc import Awaitable, Callable
from typing import TypeVar

from faststream.nats import NatsRouter

from modelops_contracts.events import (
    DatasetVersionRegistered,
    DeploymentStateChanged,
    Event,
    ImageBuilt,
    ModelAliasSet,
    ModelVersionDeleted,
    ModelVersionRegistered,
    ModelVersionUpdated,
    RunCompleted,
)
from modelops_registry import handlers_events
from modelops_registry.app_deps import Deps
from modelops_servicekit.runtime import Runtime

E = TypeVar("E", bound=Event)
OWN_EVENTS: tuple[type[Event], ...] = (
    ModelVersionRegistered,
    ModelVersionUpdated,
    ModelVersionDeleted,
    ModelAliasSet,
    DatasetVersionRegistered,
)
"""The registry's own facts, consumed back to build the audit log from what was published."""


def _applied(deps: Deps, handle: Callable[[E], Awaitable[None]]) -> Callable[[E], Awaitable[None]]:
    """Run the handler, then record the event id as applied (the handlers are idempotent)."""

    async def run(event: E) -> None:
        await handle(event)
        await deps.inbox.record(event)

    return run


def _audited(deps: Deps, source: str) -> Callable[[Event], Awaitable[None]]:
    async def audit(event: Event) -> None:
        await handlers_events.record_audit(deps, event, source)

    return audit


def build_router(runtime: Runtime, deps: Deps) -> NatsRouter:
    """Wire each consumed event to its handler."""
    router = NatsRouter()

    async def on_deployment(event: DeploymentStateChanged) -> None:
        await handlers_events.on_deployment_state_changed(deps, event)

    async def on_run(event: RunCompleted) -> None:
        await handlers_events.on_run_completed(deps, event)
        await handlers_events.record_audit(deps, event, "/modelops/jobs")

    runtime.consume(router, DeploymentStateChanged, _applied(deps, on_deployment))
    runtime.consume(router, RunCompleted, _applied(deps, on_run))
    runtime.consume(router, ImageBuilt, _applied(deps, _audited(deps, "/modelops/builder")))
    for event_cls in OWN_EVENTS:
        runtime.consume(router, event_cls, _audited(deps, "/modelops/registry"))
    return router

"""Fixtures for the tests that prove the libs against the real servers."""

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

from faststream.nats import NatsRouter

from modelops_contracts.events import Event
from modelops_servicekit.bus import Bus, NatsEventPublisher, make_broker, subscribe_event
from modelops_servicekit.settings import NatsSettings

E = TypeVar("E", bound=Event)
CHILDREN = Path(__file__).parent / "children"


@asynccontextmanager
async def consuming(
    settings: NatsSettings,
    event_cls: type[E],
    handler: Callable[[E], Awaitable[None]],
    service: str = "consumer",
) -> AsyncIterator[None]:
    """Run a durable consumer of one event class until the block exits."""
    bus = Bus(settings, service)
    broker = make_broker(settings, service=service)
    router = NatsRouter()
    subscribe_event(router, bus, NatsEventPublisher(broker, bus), event_cls, handler)
    broker.include_router(router)
    await broker.start()
    try:
        yield
    finally:
        await broker.stop()


async def run_child(script: str, *args: str, env: dict[str, str] | None = None) -> int:
    """Run a child Python process (a separate OS process, as a service would be)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CHILDREN / script),
        *args,
        env=env,
    )
    return await proc.wait()

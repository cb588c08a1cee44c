"""Run a servicekit durable consumer inside a test, and child processes that act as services."""

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


async def run_python(script: Path, *args: str) -> int:
    """Run a Python script as a separate OS process and return its exit code."""
    proc = await asyncio.create_subprocess_exec(sys.executable, str(script), *args)
    return await proc.wait()

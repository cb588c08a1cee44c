"""BusProbe: an ephemeral JetStream consumer that awaits typed events."""

import asyncio
import contextlib
from collections.abc import Callable
from typing import TypeVar

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from modelops_contracts.events import CATALOG, Event
from modelops_servicekit.bus import Bus

E = TypeVar("E", bound=Event)


class BusProbe:
    """Sees every event stored in the namespace's streams, in order, from the start."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self.events: list[Event] = []
        self.raw: list[Msg] = []
        self._changed = asyncio.Condition()
        self._nc: Client | None = None

    async def start(self, url: str) -> None:
        self._nc = await nats.connect(url)
        js = self._nc.jetstream()
        for stream, subject in (
            (self._bus.events_stream, self._bus.subject("modelops.>")),
            (self._bus.predictions_stream, self._bus.subject("modelops.prediction.>")),
        ):
            await js.subscribe(
                subject if stream == self._bus.predictions_stream else ">",
                stream=stream,
                ordered_consumer=True,
                deliver_policy=DeliverPolicy.ALL,
                cb=self._on_message,
            )

    async def _on_message(self, msg: Msg) -> None:
        self.raw.append(msg)
        event_cls = CATALOG.get(self._bus.bare(msg.subject))
        if event_cls is not None:
            with contextlib.suppress(ValueError):
                self.events.append(event_cls.model_validate_json(msg.data))
        async with self._changed:
            self._changed.notify_all()

    def of(self, event_cls: type[E], where: Callable[[E], bool] = lambda _: True) -> list[E]:
        """Events of a class seen so far that satisfy a predicate."""
        return [e for e in self.events if isinstance(e, event_cls) and where(e)]

    async def expect(
        self,
        event_cls: type[E],
        where: Callable[[E], bool] = lambda _: True,
        *,
        timeout: float = 10.0,
        count: int = 1,
    ) -> E:
        """Wait until `count` matching events arrived; return the last one."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.of(event_cls, where)) >= count)
        return self.of(event_cls, where)[count - 1]

    async def stop(self) -> None:
        if self._nc is not None:
            await self._nc.close()

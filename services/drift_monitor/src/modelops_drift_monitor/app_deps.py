"""The drift monitor's adapters, built once in the composition root."""

from dataclasses import dataclass

from modelops_contracts.events import Event
from modelops_servicekit.bus import EventPublisher
from modelops_servicekit.inbox import Inbox


@dataclass
class Deps:
    """Everything handlers need, passed in (never imported)."""

    inbox: Inbox
    events: EventPublisher

    async def inbox_record(self, event: Event) -> None:
        """Record the event as applied (idempotent on its id)."""
        await self.inbox.record(event)

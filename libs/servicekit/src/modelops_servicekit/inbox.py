"""The record of events a service has applied: makes at-least-once delivery idempotent."""

from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from modelops_contracts.events import Event
from modelops_servicekit.mongo import Document


class Inbox:
    """`processed_events`: one document per applied event id."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._events = db["processed_events"]

    async def ensure_indexes(self) -> None:
        await self._events.create_index("subject")

    async def seen(self, event: Event) -> bool:
        return await self._events.find_one({"_id": str(event.event_id)}, {"_id": 1}) is not None

    async def record(self, event: Event) -> bool:
        """Record an event; False when it had been recorded before (a redelivery)."""
        try:
            await self._events.insert_one(
                {
                    "_id": str(event.event_id),
                    "subject": event.subject,
                    "entity": event.entity(),
                    "occurred_at": event.occurred_at,
                    "applied_at": datetime.now(UTC),
                }
            )
        except DuplicateKeyError:
            return False
        return True

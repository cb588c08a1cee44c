"""MongoDB adapters: subscriptions, alert rules and cool-downs (deliveries: delivery_store.py)."""

from datetime import datetime

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from modelops_notifier.ports import Doc
from modelops_servicekit.mongo import Document


class MongoDocuments:
    """CRUD on one collection keyed by `_id` (subscriptions, alert rules)."""

    def __init__(self, db: AsyncDatabase[Document], name: str) -> None:
        self._c = db[name]

    async def insert(self, doc: Doc) -> None:
        await self._c.insert_one(doc)

    async def get(self, doc_id: str) -> Doc | None:
        return await self._c.find_one({"_id": doc_id})

    async def list(self) -> list[Doc]:
        return [d async for d in self._c.find({}).sort("created_at", 1)]

    async def update(self, doc_id: str, fields: Doc) -> Doc | None:
        return await self._c.find_one_and_update(
            {"_id": doc_id}, {"$set": fields}, return_document=ReturnDocument.AFTER
        )

    async def delete(self, doc_id: str) -> bool:
        return (await self._c.delete_one({"_id": doc_id})).deleted_count == 1


class MongoCooldowns:
    """`alert_cooldowns`: one document per (rule, entity) holding its quiet period."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._c = db["alert_cooldowns"]

    async def claim(self, key: str, event_id: str, until: datetime, at: datetime) -> bool:
        """True when this event may alert (no quiet period, or the event already had it)."""
        for _ in range(3):
            doc = await self._c.find_one({"_id": key})
            if doc is None:
                try:
                    await self._c.insert_one({"_id": key, "until": until, "event_id": event_id})
                except DuplicateKeyError:
                    continue  # another replica claimed it first: look again
                return True
            if doc["event_id"] == event_id:
                return True  # a redelivered event: the alert was already decided for it
            if doc["until"] > at:
                await self._c.update_one({"_id": key}, {"$inc": {"suppressed": 1}})
                return False
            current = {"_id": key, "event_id": doc["event_id"]}
            result = await self._c.update_one(
                current, {"$set": {"until": until, "event_id": event_id}}
            )
            if result.matched_count == 1:
                return True
        return False

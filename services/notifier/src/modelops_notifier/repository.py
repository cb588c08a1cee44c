"""MongoDB adapters: subscriptions, alert rules, cool-downs and deliveries.

FerretDB (SQLite) pushes down only `_id` equality; every other filter and every update scans the
collection. So pending work lives in a small queue (`pending_deliveries`) that is scanned, and
finished deliveries are appended in batches to the history (`deliveries`), read by `_id`.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import DeleteOne, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from modelops_notifier.domain import fan_members
from modelops_notifier.ports import Doc
from modelops_servicekit.mongo import Document

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DUPLICATE_KEY = 11000


def duplicate_indexes(exc: BulkWriteError) -> list[int]:
    errors: list[dict[str, Any]] = exc.details.get("writeErrors", [])
    if any(e.get("code") != DUPLICATE_KEY for e in errors):
        raise exc
    return [int(e["index"]) for e in errors]


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


class MongoDeliveries:
    """The work queue of pending deliveries and the history of finished ones."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._queue = db["pending_deliveries"]
        self._history = db["deliveries"]

    async def ensure_indexes(self) -> None:
        """Secondary indexes on MongoDB only.

        The `_id` of a delivery is derived from (subscription, event), so `_id` uniqueness is
        the idempotency key everywhere. FerretDB on SQLite uses no secondary index for queries
        and a unique compound index makes each insert ~15x slower, so there we create none.
        """
        info = await self._queue.database.client.admin.command("buildInfo")
        if "ferretdbVersion" in info:
            return
        for coll in (self._queue, self._history):
            await coll.create_index([("subscription_id", 1), ("event_id", 1)], unique=True)
        await self._queue.create_index([("next_attempt_at", 1)])
        await self._history.create_index([("subscription_id", 1), ("created_at", 1)])

    async def enqueue(self, docs: Sequence[Doc]) -> list[Doc]:
        """Insert pending deliveries; an existing (subscription, event) is left as it is.

        Returns the documents actually inserted (a redelivered event inserts nothing)."""
        if not docs:
            return []
        try:
            await self._queue.insert_many(list(docs), ordered=False)
        except BulkWriteError as exc:
            skipped = set(duplicate_indexes(exc))
            return [d for i, d in enumerate(docs) if i not in skipped]
        return list(docs)

    async def discard(self, delivery_id: str) -> None:
        """Drop a queue entry whose outcome the history already holds."""
        await self._queue.delete_one({"_id": delivery_id})

    async def claim_due(self, owner: str, at: datetime, lease_s: float) -> Doc | None:
        """Lease one due delivery whose lease (if any) expired: only we attempt it now."""
        return await self._queue.find_one_and_update(
            {"next_attempt_at": {"$lte": at}, "lease_until": {"$lte": at}},
            {
                "$set": {
                    "lease_until": at + timedelta(seconds=lease_s),
                    "lease_owner": owner,
                    "lease_token": uuid.uuid4().hex,
                }
            },
            sort=[("next_attempt_at", 1)],
            return_document=ReturnDocument.AFTER,
        )

    async def renew(self, doc: Doc, until: datetime) -> bool:
        filt = {"_id": doc["_id"], "lease_token": doc["lease_token"]}
        result = await self._queue.update_one(filt, {"$set": {"lease_until": until}})
        if result.matched_count == 1:
            doc["lease_until"] = until
        return result.matched_count == 1

    async def reschedule(self, doc: Doc, fields: Doc, attempt: Doc | None) -> bool:
        """Record an attempt (if any) and release the lease until `next_attempt_at`."""
        update: Doc = {"$set": {**fields, "lease_until": EPOCH, "lease_token": None}}
        if attempt is not None:
            update["$push"] = {"attempts": attempt}
            update["$inc"] = {"attempt_count": 1, "series_attempts": 1}
        filt = {"_id": doc["_id"], "lease_token": doc["lease_token"]}
        return (await self._queue.update_one(filt, update)).matched_count == 1

    async def finish(self, docs: Sequence[Doc], drop: Sequence[str] = ()) -> None:
        """Append finished deliveries to the history, then drop them (and `drop`) from the queue."""
        if docs:
            try:
                await self._history.insert_many(list(docs), ordered=False)
            except BulkWriteError as exc:
                for index in duplicate_indexes(exc):  # a replayed delivery: its new outcome wins
                    await self._history.replace_one({"_id": docs[index]["_id"]}, docs[index])
        ids = [d["_id"] for d in docs if "fanout_id" not in d] + list(drop)
        if ids:  # one `_id` equality per delete: FerretDB pushes those down, `$in` scans
            await self._queue.bulk_write([DeleteOne({"_id": i}) for i in ids], ordered=False)

    async def split(self, doc: Doc, fields: Doc, attempt: Doc | None) -> bool:
        """A delivery of a fan-out document that needs a retry gets a queue entry of its own."""
        own = {k: v for k, v in doc.items() if k != "fanout_id"}
        own.update(fields, lease_until=EPOCH, lease_token=None, lease_owner=None)
        if attempt is not None:
            own["attempts"] = [*doc.get("attempts", []), attempt]
            own["attempt_count"] = doc.get("attempt_count", 0) + 1
            own["series_attempts"] = doc.get("series_attempts", 0) + 1
        try:
            await self._queue.insert_one(own)
        except DuplicateKeyError:
            return False  # already split off (a fan-out resumed after a crash)
        return True

    async def get(self, delivery_id: str) -> Doc | None:
        found = await self._queue.find_one({"_id": delivery_id})
        return found or await self._history.find_one({"_id": delivery_id})

    async def exists(self, delivery_id: str) -> bool:
        """Split off into its own queue entry, or finished."""
        return await self.get(delivery_id) is not None

    async def is_finished(self, doc: Doc) -> bool:
        """True when the history already holds this series' outcome (crash after finishing)."""
        done = await self._history.find_one({"_id": doc["_id"]}, {"series": 1})
        return done is not None and done.get("series", 0) >= doc.get("series", 0)

    async def query(self, filters: Doc, limit: int) -> list[Doc]:
        status = filters.get("status")
        found: dict[str, Doc] = {}
        if status in (None, "pending"):
            async for d in self._queue.find(filters).limit(limit):
                found[d["_id"]] = d
            async for fan in self._queue.find({"fanout": True}):
                for d in fan_members(fan):
                    if all(d.get(k) == v for k, v in filters.items()):
                        found.setdefault(d["_id"], d)
        if status != "pending":
            async for d in self._history.find(filters).sort("created_at", -1).limit(limit):
                found.setdefault(d["_id"], d)
        docs = sorted(found.values(), key=lambda d: d["created_at"], reverse=True)
        return docs[:limit]

    async def finished_since(self, subscription_id: str, since: datetime) -> list[Doc]:
        filt = {"subscription_id": subscription_id, "created_at": {"$gte": since}}
        return [d async for d in self._history.find(filt)]

    async def release_paused(self, subscription_id: str, at: datetime) -> int:
        result = await self._queue.update_many(
            {"subscription_id": subscription_id, "held": True},
            {"$set": {"next_attempt_at": at, "held": False}},
        )
        return result.modified_count

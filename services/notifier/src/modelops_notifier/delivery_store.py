"""MongoDB adapter for deliveries: the small pending queue and the insert-only history.

FerretDB (SQLite) pushes no filter down: a lookup that misses, every update and every delete
scans the collection, while an insert costs the same however large it is. So the history
(`deliveries`) is only ever inserted into: one record per event holding the outcomes of all
its deliveries that finished on their first attempts, plus one record per (delivery, series)
that finished later. Only deliveries that wait (retries, held, replays, attempts outlasting
their event's commit) have a document in `pending_deliveries`, which stays small.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from modelops_notifier.domain import fan_members, slim_members
from modelops_notifier.ports import Doc
from modelops_servicekit.mongo import Document

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DUPLICATE_KEY = 11000
LEASE_FIELDS = ("lease_owner", "lease_token", "lease_until", "held", "next_attempt_at")
SHARED = ("event_id", "event_type", "entity", "created_at")  # the same for an event's deliveries
DROP = (*LEASE_FIELDS, *SHARED)
EVENT_KEYS = {"_id": "delivery_ids", "subscription_id": "subscription_ids"}  # event records


def duplicate_indexes(exc: BulkWriteError) -> list[int]:
    errors: list[dict[str, Any]] = exc.details.get("writeErrors", [])
    if any(e.get("code") != DUPLICATE_KEY for e in errors):
        raise exc
    return [int(e["index"]) for e in errors]


async def insert_new(coll: AsyncCollection[Document], docs: Sequence[Doc]) -> list[int]:
    """Insert what is not there yet (one write); returns the indexes that already existed."""
    if not docs:
        return []
    try:
        await coll.insert_many(list(docs), ordered=False)
    except BulkWriteError as exc:
        return duplicate_indexes(exc)
    return []


def event_record(event_id: str, members: Sequence[Doc]) -> Doc:
    """One history document for an event's finished deliveries.

    What the deliveries share (body, event, entity, time) is stored once; their own fields
    travel as one JSON string next to the arrays the API filters on. FerretDB converts every
    BSON value: a structured record of 20 deliveries cost it ~5x the CPU and ~7x the time of
    this one (measured), which bounded the delivery rate on a 2-core machine."""
    first = members[0]
    finished = [{k: v for k, v in d.items() if v is not None and k not in DROP} for d in members]
    body, slim = slim_members(finished)
    return {
        "_id": event_id,
        **{k: first.get(k) for k in SHARED},
        "body": body,
        "delivery_ids": [d["_id"] for d in members],
        "subscription_ids": [d["subscription_id"] for d in members],
        "outcomes": orjson.dumps(slim).decode(),
    }


def _revived(member: Doc) -> Doc:
    """A delivery decoded from an event record's JSON, with its times as datetimes again."""
    if "completed_at" in member:
        member["completed_at"] = datetime.fromisoformat(member["completed_at"])
    for attempt in member.get("attempts", []):
        attempt["at"] = datetime.fromisoformat(attempt["at"])
    return member


def delivery_record(doc: Doc) -> Doc:
    """One history document for a delivery series that finished after its event's commit."""
    kept = {k: v for k, v in doc.items() if k not in LEASE_FIELDS}
    return {**kept, "_id": f"{doc['_id']}/{doc.get('series', 0)}", "delivery_id": doc["_id"]}


def explode(record: Doc) -> list[Doc]:
    """The deliveries a history document holds, each with its `_id` and body."""
    if "outcomes" in record:
        shared = {k: record[k] for k in SHARED if k in record}
        slim = [_revived(m) for m in orjson.loads(record["outcomes"])]
        return [{**shared, **d} for d in fan_members({"body": record["body"], "deliveries": slim})]
    return [{**record, "_id": record["delivery_id"]}]


def newest(docs: Sequence[Doc]) -> dict[str, Doc]:
    """Per delivery, its latest series (a replay's outcome supersedes the first one)."""
    best: dict[str, Doc] = {}
    for d in docs:
        key = (d.get("series", 0), d.get("completed_at") or EPOCH)
        held = best.get(d["_id"])
        if held is None or key > (held.get("series", 0), held.get("completed_at") or EPOCH):
            best[d["_id"]] = d
    return best


def history_filter(filters: Doc) -> Doc:
    """Match per-delivery records by their fields and event records by their arrays."""
    if not filters:
        return {}
    by_delivery = {"delivery_id" if k == "_id" else k: v for k, v in filters.items()}
    by_event = {EVENT_KEYS.get(k, k): v for k, v in filters.items()}
    return {"$or": [by_delivery, by_event]}


class MongoDeliveries:
    """The work queue of waiting deliveries and the history of finished ones."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._queue = db["pending_deliveries"]
        self._history = db["deliveries"]

    async def ensure_indexes(self) -> None:
        """Secondary indexes on MongoDB only (FerretDB on SQLite uses none for queries)."""
        info = await self._queue.database.client.admin.command("buildInfo")
        if "ferretdbVersion" in info:
            return
        await self._queue.create_index([("next_attempt_at", 1)])
        await self._queue.create_index([("subscription_id", 1)])
        for key in ("delivery_id", "delivery_ids", "event_id"):
            await self._history.create_index([(key, 1)])
        for key in ("subscription_id", "subscription_ids"):
            await self._history.create_index([(key, 1), ("created_at", 1)])

    # -- writes -------------------------------------------------------------------------------
    async def enqueue(self, docs: Sequence[Doc]) -> list[Doc]:
        """Insert waiting deliveries; one already waiting is left as it is.

        Returns the documents actually inserted."""
        skipped = set(await insert_new(self._queue, docs))
        return [d for i, d in enumerate(docs) if i not in skipped]

    async def record_events(self, events: Sequence[tuple[str, Sequence[Doc]]]) -> None:
        """One history record per event (a redelivered event's second record is dropped)."""
        await insert_new(self._history, [event_record(e, m) for e, m in events if m])

    async def record(self, docs: Sequence[Doc]) -> None:
        """History records of delivery series finished from the queue (or sent inline)."""
        await insert_new(self._history, [delivery_record(d) for d in docs])

    async def drop(self, ids: Sequence[str], owner: str) -> None:
        """Remove recorded deliveries from the queue: one delete (one scan) for all."""
        if ids:
            await self._queue.delete_many({"_id": {"$in": list(ids)}, "lease_owner": owner})

    async def claim_due(self, owner: str, at: datetime, lease_s: float, limit: int) -> list[Doc]:
        """Lease up to `limit` due deliveries whose lease (if any) expired: three scans."""
        due = {"next_attempt_at": {"$lte": at}, "lease_until": {"$lte": at}}
        found = self._queue.find(due, {"_id": 1}).sort("next_attempt_at", 1).limit(limit)
        ids = [d["_id"] async for d in found]
        if not ids:
            return []
        token = uuid.uuid4().hex
        lease = {"lease_until": at + timedelta(seconds=lease_s), "lease_owner": owner}
        await self._queue.update_many(
            {"_id": {"$in": ids}, "lease_until": {"$lte": at}},
            {"$set": {**lease, "lease_token": token}},
        )
        return [d async for d in self._queue.find({"lease_token": token})]

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

    async def release_paused(self, subscription_id: str, at: datetime) -> int:
        result = await self._queue.update_many(
            {"subscription_id": subscription_id, "held": True},
            {"$set": {"next_attempt_at": at, "held": False}},
        )
        return result.modified_count

    # -- reads (API; each scans the history on FerretDB) ---------------------------------------
    async def get(self, delivery_id: str) -> Doc | None:
        found = await self._queue.find_one({"_id": delivery_id})
        if found is not None:
            return found
        filt = history_filter({"_id": delivery_id})
        docs = [d async for r in self._history.find(filt) for d in explode(r)]
        return newest([d for d in docs if d["_id"] == delivery_id]).get(delivery_id)

    async def query(self, filters: Doc, limit: int) -> list[Doc]:
        status = filters.get("status")
        where = {k: v for k, v in filters.items() if k != "status"}
        found: dict[str, Doc] = {}
        if status in (None, "pending"):
            async for d in self._queue.find(filters).limit(limit):
                found[d["_id"]] = d
        if status != "pending":
            cursor = self._history.find(history_filter(where)).sort("created_at", -1).limit(limit)
            docs = [d async for r in cursor for d in explode(r)]
            matching = [d for d in docs if all(d.get(k) == v for k, v in where.items())]
            for doc_id, d in newest(matching).items():
                if status in (None, d["status"]):
                    found.setdefault(doc_id, d)
        docs_ = sorted(found.values(), key=lambda d: d["created_at"], reverse=True)
        return docs_[:limit]

    async def finished_since(self, subscription_id: str, since: datetime) -> list[Doc]:
        where = {"subscription_id": subscription_id}
        filt = {**history_filter(where), "created_at": {"$gte": since}}
        docs = [d async for r in self._history.find(filt) for d in explode(r)]
        return list(newest([d for d in docs if d["subscription_id"] == subscription_id]).values())

"""MongoDB collections `windows` and `feedback` (FerretDB-compatible queries only)."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from modelops_contracts.events import Event
from modelops_servicekit.objects import MinioObjectStore
from modelops_servicekit.outbox import push_outbox

Document = dict[str, Any]
WRITE_BATCH = 2000
UPDATE_BATCH = 50
"""Updates per bulk write: FerretDB 1.24 (SQLite) never answers an `update` command with 100
or more statements, and leaves that database locked (99 answer in 0.2 s)."""
DUPLICATE_KEY = 11000


class MongoWindows:
    """Hour windows by id (`<endpoint>/<version>/<date>T<hour>`)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["windows"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("status", 1), ("window_end", 1)])

    async def touch(self, doc: Document, rows: int) -> bool:
        update = {"$setOnInsert": {**doc, "status": "open"}, "$inc": {"rows_written": rows}}
        try:
            result = await self.collection.find_one_and_update(
                {"_id": doc["_id"]}, update, upsert=True
            )
        except DuplicateKeyError:  # a concurrent flush of the same window created it first
            result = await self.collection.find_one_and_update({"_id": doc["_id"]}, update)
        return result is None or result.get("status") == "open"

    async def due(self, before: datetime) -> list[Document]:
        query = {"status": "open", "window_end": {"$lte": before}}
        return [d async for d in self.collection.find(query, projection={"_outbox": 0})]

    async def close(self, window_id: str, row_count: int, data_uri: str, event: Event) -> bool:
        update = {
            "$set": {
                "status": "closed",
                "row_count": row_count,
                "data_uri": data_uri,
                "closed_at": datetime.now(UTC),
            }
        }
        result = await self.collection.update_one(
            {"_id": window_id, "status": "open"}, push_outbox(update, [event])
        )
        return result.modified_count == 1


class MongoFeedback:
    """Labels keyed by request id: new ids are inserted in bulk, known ids get the new label.

    FerretDB is slow on bulk upserts and on large `$in` reads: an upload inserts unordered
    (ids already there fail individually and are then updated), and reads join the Parquet copy
    of each upload kept in the bucket (`handlers.upload_feedback`).
    """

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["feedback"]

    async def upsert(self, labels: list[Document], endpoint: str | None) -> dict[str, int]:
        now = datetime.now(UTC)
        extra = {"endpoint_name": endpoint} if endpoint else {}
        latest = {item["request_id"]: item["label"] for item in labels}  # last row of an id wins
        docs = [{"_id": k, "label": v, "updated_at": now, **extra} for k, v in latest.items()]
        counts = {"received": len(labels), "inserted": 0, "updated": 0}
        for i in range(0, len(docs), WRITE_BATCH):
            chunk = docs[i : i + WRITE_BATCH]
            known = await self._insert(chunk)
            counts["inserted"] += len(chunk) - len(known)
            if known:
                ops = [
                    UpdateOne(
                        {"_id": d["_id"]}, {"$set": {k: v for k, v in d.items() if k != "_id"}}
                    )
                    for d in chunk
                    if d["_id"] in known
                ]
                for j in range(0, len(ops), UPDATE_BATCH):
                    batch = ops[j : j + UPDATE_BATCH]
                    result = await self.collection.bulk_write(batch, ordered=False)
                    counts["updated"] += result.modified_count
        return counts

    async def _insert(self, docs: list[Document]) -> set[str]:
        """Insert; the ids that already existed."""
        try:
            await self.collection.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return {docs[e["index"]]["_id"] for e in errors}
        return set()


class BucketObjects:
    """The collector's bucket through servicekit's object store (whole small objects)."""

    def __init__(self, store: MinioObjectStore) -> None:
        self._store = store
        self.bucket = store.bucket

    async def put_bytes(self, key: str, data: bytes) -> None:
        async def one() -> AsyncIterator[bytes]:
            yield data

        await self._store.put_stream(key, one())

    async def get_bytes(self, key: str) -> bytes:
        return b"".join([chunk async for chunk in self._store.get_stream(key)])

    async def list(self, prefix: str) -> list[str]:
        return await self._store.list(prefix)

"""MongoDB collections `monitors` and `runs` (FerretDB-compatible queries only)."""

from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from modelops_servicekit.errors import NotFound

Document = dict[str, Any]


class MongoMonitors:
    """Monitors by id."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["monitors"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("endpoint_name")

    async def insert(self, doc: Document) -> None:
        await self.collection.insert_one(doc)

    async def get(self, monitor_id: str) -> Document:
        doc = await self.collection.find_one({"_id": monitor_id})
        if doc is None:
            raise NotFound(f"no monitor {monitor_id!r}")
        return doc

    async def list(self, endpoint_name: str | None = None) -> list[Document]:
        query = {"endpoint_name": endpoint_name} if endpoint_name else {}
        return [d async for d in self.collection.find(query).sort("created_at", DESCENDING)]

    async def set_last_run(self, monitor_id: str, at: datetime) -> None:
        await self.collection.update_one({"_id": monitor_id}, {"$set": {"last_run_at": at}})

    async def set_baseline(self, monitor_id: str, previous: int, fields: Document) -> bool:
        """Replace the baseline's fields if its generation is still `previous`."""
        current: Any = previous if previous else {"$in": [0, None]}  # None: created before
        result = await self.collection.update_one(
            {"_id": monitor_id, "baseline_generation": current}, {"$set": fields}
        )
        return result.modified_count == 1

    async def claim_run(self, monitor_id: str, previous: datetime | None, at: datetime) -> bool:
        """Move last_run_at from `previous` to `at`; False when another replica moved it first."""
        result = await self.collection.update_one(
            {"_id": monitor_id, "last_run_at": previous}, {"$set": {"last_run_at": at}}
        )
        return result.modified_count == 1


class MongoRuns:
    """Runs of monitors, newest first; each carries its events until relayed."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["runs"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("monitor_id", 1), ("started_at", DESCENDING)])

    async def insert(self, doc: Document) -> None:
        await self.collection.insert_one(doc)

    async def get(self, monitor_id: str, run_id: str) -> Document:
        doc = await self.collection.find_one(
            {"_id": run_id, "monitor_id": monitor_id}, {"_outbox": 0}
        )
        if doc is None:
            raise NotFound(f"no run {run_id!r} of monitor {monitor_id!r}")
        return doc

    async def list(self, monitor_id: str, limit: int) -> list[Document]:
        cursor = self.collection.find({"monitor_id": monitor_id}, {"_outbox": 0})
        return [d async for d in cursor.sort("started_at", DESCENDING).limit(limit)]

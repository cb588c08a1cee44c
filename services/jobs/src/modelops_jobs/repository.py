"""MongoDB (FerretDB locally) implementations of the jobs' ports."""

from collections.abc import Sequence
from datetime import datetime

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from modelops_contracts.events import Event
from modelops_contracts.types import RunState
from modelops_jobs.domain import ACTIVE
from modelops_jobs.ports import Document
from modelops_servicekit.errors import Conflict
from modelops_servicekit.outbox import OUTBOX_FIELD, push_outbox

_VIEW = {OUTBOX_FIELD: 0}


class MongoJobs:
    """`jobs`: one document per job name (`_id`)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection: AsyncCollection[Document] = db["jobs"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("created_at", DESCENDING)])

    async def insert(self, doc: Document) -> None:
        try:
            await self.collection.insert_one({**doc, "_id": doc["name"]})
        except DuplicateKeyError as exc:
            raise Conflict(f"job {doc['name']!r} already exists") from exc

    async def get(self, name: str) -> Document | None:
        return await self.collection.find_one({"_id": name})

    async def all(self) -> list[Document]:
        return await self.collection.find({}).sort("name", ASCENDING).to_list()

    async def triggered_by(self, event_type: str) -> list[Document]:
        return await self.collection.find({"triggers.event": event_type}).to_list()

    async def scheduled(self) -> list[Document]:
        return await self.collection.find({"schedule_cron": {"$type": "string"}}).to_list()

    async def note(self, name: str, decision: Document) -> None:
        await self.collection.update_one({"_id": name}, {"$set": {"last_trigger": decision}})

    async def mark(self, name: str, fields: Document) -> None:
        await self.collection.update_one({"_id": name}, {"$set": fields})


class MongoClaims:
    """`trigger_claims`: one document per claimed key. FerretDB applies conditional updates
    non-atomically under concurrency, but a duplicate `_id` is always refused: the only lock."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection: AsyncCollection[Document] = db["trigger_claims"]

    async def take(self, key: str, doc: Document) -> bool:
        try:
            await self.collection.insert_one({**doc, "_id": key})
        except DuplicateKeyError:
            return False
        return True

    async def get(self, key: str) -> Document | None:
        return await self.collection.find_one({"_id": key})

    async def drop(self, key: str, run_id: str) -> None:
        await self.collection.delete_one({"_id": key, "run_id": run_id})


class MongoRuns:
    """`runs`: one document per run (`_id` = run id), its outbox inside.

    A heartbeat and a state change of one run may race; on FerretDB the database serializes
    updates per collection (`modelops_servicekit.mongo`), else one could write the old state
    back (seen: a started run read back as queued, a finished one swept as an orphan)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection: AsyncCollection[Document] = db["runs"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("job_name", ASCENDING), ("created_at", DESCENDING)])
        await self.collection.create_index([("state", ASCENDING), ("heartbeat_at", ASCENDING)])

    async def insert(self, doc: Document) -> None:
        await self.collection.insert_one({**doc, "_id": doc["run_id"]})

    async def get(self, run_id: str) -> Document | None:
        return await self.collection.find_one({"_id": run_id}, _VIEW)

    async def recent(self, job_name: str | None, limit: int) -> list[Document]:
        query = {"job_name": job_name} if job_name else {}
        cursor = self.collection.find(query, _VIEW).sort("created_at", DESCENDING)
        return await cursor.limit(limit).to_list()

    async def transition(
        self,
        run_id: str,
        allowed_from: Sequence[RunState],
        target: RunState,
        fields: Document,
        events: Sequence[Event],
    ) -> bool:
        query = {"_id": run_id, "state": {"$in": [s.value for s in allowed_from]}}
        update = push_outbox({"$set": {**fields, "state": target.value}}, events)
        result = await self.collection.update_one(query, update)
        return result.modified_count == 1

    async def active_of(self, job_name: str) -> str | None:
        """The id of a queued or running run of the job, if any."""
        query = {"job_name": job_name, "state": {"$in": [s.value for s in ACTIVE]}}
        doc = await self.collection.find_one(query, {"_id": 1})
        return str(doc["_id"]) if doc else None

    async def heartbeat(self, run_ids: Sequence[str], at: datetime) -> None:
        if run_ids:
            query = {"_id": {"$in": list(run_ids)}}
            await self.collection.update_many(query, {"$set": {"heartbeat_at": at}})

    async def stale(self, before: datetime) -> list[Document]:
        query = {
            "state": {"$in": [s.value for s in ACTIVE]},
            "heartbeat_at": {"$lt": before},
        }
        return await self.collection.find(query, _VIEW).to_list()

"""MongoDB (FerretDB locally) storage of promotion policies and decisions."""

from collections.abc import Sequence

from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from modelops_contracts.events import Event
from modelops_jobs.ports import Document
from modelops_jobs.promotion import PromotionState
from modelops_servicekit.outbox import OUTBOX_FIELD, push_outbox

_VIEW = {OUTBOX_FIELD: 0}


class MongoPolicies:
    """`policies`: one document per model name (`_id`)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection: AsyncCollection[Document] = db["policies"]

    async def put(self, doc: Document) -> None:
        await self.collection.replace_one({"_id": doc["model_name"]}, doc, upsert=True)

    async def get(self, model_name: str) -> Document | None:
        return await self.collection.find_one({"_id": model_name})

    async def all(self) -> list[Document]:
        return await self.collection.find({}).sort("_id").to_list()

    async def delete(self, model_name: str) -> bool:
        return (await self.collection.delete_one({"_id": model_name})).deleted_count == 1


class MongoPromotions:
    """`promotions`: one decision per model version (`_id` = `name:version`), outbox inside."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection: AsyncCollection[Document] = db["promotions"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("model_name", 1), ("created_at", DESCENDING)])

    async def insert(self, doc: Document) -> bool:
        """False if the version already has a decision (the insert is the claim)."""
        try:
            await self.collection.insert_one({**doc, "_id": doc["promotion_id"]})
        except DuplicateKeyError:
            return False
        return True

    async def get(self, promotion_id: str) -> Document | None:
        return await self.collection.find_one({"_id": promotion_id}, _VIEW)

    async def in_state(self, state: PromotionState) -> list[Document]:
        return await self.collection.find({"state": state.value}, _VIEW).to_list()

    async def recent(self, model_name: str | None, limit: int) -> list[Document]:
        query = {"model_name": model_name} if model_name else {}
        cursor = self.collection.find(query, _VIEW).sort("created_at", DESCENDING)
        return await cursor.limit(limit).to_list()

    async def transition(
        self,
        promotion_id: str,
        allowed_from: Sequence[PromotionState],
        target: PromotionState,
        fields: Document,
        events: Sequence[Event] = (),
    ) -> bool:
        """Move the decision to `target` if it is in one of `allowed_from`, with its events."""
        query = {"_id": promotion_id, "state": {"$in": [s.value for s in allowed_from]}}
        update = push_outbox({"$set": {**fields, "state": target.value}}, events)
        return (await self.collection.update_one(query, update)).modified_count == 1

"""Endpoints, deployments and rollouts in Mongo; every change carries its events (outbox)."""

from collections.abc import Sequence
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from modelops_contracts.events import Event
from modelops_servicekit.errors import Conflict, NotFound
from modelops_servicekit.mongo import Document
from modelops_servicekit.outbox import push_outbox, with_outbox

HIDDEN = {"_outbox": 0}


class MongoDocs:
    """One collection of named documents whose updates are guarded by a revision number."""

    def __init__(self, collection: AsyncCollection[Document], kind: str) -> None:
        self.collection = collection
        self.kind = kind

    async def insert(self, doc: Document, events: Sequence[Event]) -> None:
        try:
            await self.collection.insert_one(with_outbox({**doc, "rev": 1}, events))
        except DuplicateKeyError as exc:
            raise Conflict(f"{self.kind} {doc['_id']!r} already exists") from exc

    async def get(self, name: str) -> Document:
        doc = await self.collection.find_one({"_id": name}, HIDDEN)
        if doc is None:
            raise NotFound(f"{self.kind} {name!r} not found")
        return doc

    async def find(self, query: dict[str, Any] | None = None) -> list[Document]:
        return [d async for d in self.collection.find(query or {}, HIDDEN).sort("_id", 1)]

    async def update(
        self, doc: Document, changes: dict[str, Any], events: Sequence[Event] = ()
    ) -> Document:
        """Compare-and-set on `rev`: a concurrent change makes this raise Conflict."""
        update = push_outbox({"$set": changes, "$inc": {"rev": 1}}, events)
        new = await self.collection.find_one_and_update(
            {"_id": doc["_id"], "rev": doc["rev"]},
            update,
            return_document=ReturnDocument.AFTER,  # no projection: FerretDB lacks it here
        )
        if new is None:
            raise Conflict(f"{self.kind} {doc['_id']!r} changed concurrently; retry")
        new.pop("_outbox", None)
        return new

    async def delete(self, name: str) -> None:
        await self.collection.delete_one({"_id": name})


class Repositories:
    """The deployer's three collections."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.endpoints = MongoDocs(db["endpoints"], "endpoint")
        self.deployments = MongoDocs(db["deployments"], "deployment")
        self.rollouts = MongoDocs(db["rollouts"], "rollout")
        self.images = db["images"]

    async def ensure_indexes(self) -> None:
        await self.deployments.collection.create_index("endpoint")
        await self.rollouts.collection.create_index("endpoint")
        await self.images.create_index([("model_name", 1), ("version", 1)])

    @property
    def outboxes(self) -> list[AsyncCollection[Document]]:
        return [self.endpoints.collection, self.deployments.collection, self.rollouts.collection]

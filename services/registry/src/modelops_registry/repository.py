"""MongoDB (FerretDB locally) implementations of the registry's ports."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from modelops_contracts.events import Event
from modelops_registry.domain import IdempotencyKeyTaken, StaleWrite, VersionTaken
from modelops_registry.ports import Document, VersionQuery
from modelops_servicekit.outbox import push_outbox, with_outbox

IDEMPOTENCY_FIELD = "idempotency_scope"


def _scope(name: str, key: str) -> str:
    return f"{name}\n{key}"


class MongoVersions:
    """`model_versions` or `dataset_versions`: unique (name, version); deletes leave tombstones."""

    def __init__(self, db: AsyncDatabase[Document], collection: str, name_field: str) -> None:
        self.collection: AsyncCollection[Document] = db[collection]
        self._name = name_field

    async def ensure_indexes(self) -> None:
        await self.collection.create_index(
            [(self._name, ASCENDING), ("version", ASCENDING)], unique=True
        )
        # FerretDB has no partial indexes: one sparse field holds "name\nkey"
        await self.collection.create_index(IDEMPOTENCY_FIELD, unique=True, sparse=True)
        await self.collection.create_index([("created_at", DESCENDING)])

    async def max_version(self, name: str) -> int:
        cursor = self.collection.find({self._name: name}, {"version": 1})
        docs = await cursor.sort("version", DESCENDING).limit(1).to_list()
        return int(docs[0]["version"]) if docs else 0

    async def insert(self, doc: Document, events: Sequence[Event]) -> None:
        key = doc.get("idempotency_key")
        if key:
            doc = {**doc, IDEMPOTENCY_FIELD: _scope(doc[self._name], key)}
        try:
            await self.collection.insert_one(with_outbox(doc, events))
        except DuplicateKeyError as exc:  # FerretDB does not say which index: look
            if key and await self.by_idempotency_key(doc[self._name], key) is not None:
                raise IdempotencyKeyTaken(key) from exc
            raise VersionTaken(doc["version"]) from exc

    async def by_idempotency_key(self, name: str, key: str) -> Document | None:
        return await self.collection.find_one({IDEMPOTENCY_FIELD: _scope(name, key)}, _VIEW)

    async def get(self, name: str, version: int) -> Document | None:
        return await self.collection.find_one({self._name: name, "version": version}, _VIEW)

    async def latest(self, name: str) -> Document | None:
        query = {self._name: name, "deleted": {"$ne": True}, "archived": {"$ne": True}}
        docs = await self.collection.find(query, _VIEW).sort("version", DESCENDING).to_list(1)
        return docs[0] if docs else None

    def _filter(self, q: VersionQuery) -> Document:
        query: Document = {"deleted": {"$ne": True}}
        if q.name:
            query[self._name] = q.name
        if not q.include_archived:
            query["archived"] = {"$ne": True}
        if q.framework:
            query["framework"] = q.framework
        query.update({f"tags.{k}": v for k, v in q.tags.items()})
        query.update({f"properties.{k}": v for k, v in q.properties.items()})
        if q.only is not None:
            pairs = [{self._name: n, "version": v} for n, v in q.only]
            query["$or"] = pairs or [{"version": -1}]
        return query

    async def search(self, q: VersionQuery) -> tuple[list[Document], int]:
        query = self._filter(q)
        total = await self.collection.count_documents(query)
        cursor = self.collection.find(query, _VIEW).sort(
            [("created_at", DESCENDING), ("version", DESCENDING)]
        )
        docs = await cursor.skip((q.page - 1) * q.limit).limit(q.limit).to_list()
        return docs, total

    async def update(
        self, name: str, version: int, revision: int, changes: Document, events: Sequence[Event]
    ) -> None:
        query = {self._name: name, "version": version, "revision": revision}
        update = push_outbox({**changes, "$inc": {"revision": 1}}, events)
        result = await self.collection.update_one(query, update)
        if result.matched_count == 0:
            raise StaleWrite(f"{name}:{version}")


_VIEW = {"_outbox": 0, IDEMPOTENCY_FIELD: 0}


class MongoAliases:
    """`aliases`: one document per (model, alias) holding its current version and history."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection: AsyncCollection[Document] = db["aliases"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("model_name", ASCENDING), ("alias", ASCENDING)])
        await self.collection.create_index("alias")

    async def get(self, name: str, alias: str) -> Document | None:
        return await self.collection.find_one({"_id": f"{name}@{alias}"}, {"_outbox": 0})

    async def of_model(self, name: str) -> list[Document]:
        return await self.collection.find({"model_name": name}, {"_outbox": 0}).to_list()

    async def named(self, alias: str, name: str | None = None) -> list[Document]:
        query: Document = {"alias": alias}
        if name:
            query["model_name"] = name
        return await self.collection.find(query, {"_outbox": 0, "history": 0}).to_list()

    async def move(
        self,
        name: str,
        alias: str,
        version: int,
        previous: int | None,
        entry: Document,
        events: Sequence[Event],
    ) -> None:
        """Compare-and-set on the current version; the history entry lands in the same write."""
        key = f"{name}@{alias}"
        fields = {"version": version, "set_at": entry["set_at"], "set_by": entry["set_by"]}
        if previous is None:
            doc = {"_id": key, "model_name": name, "alias": alias, **fields, "history": [entry]}
            try:
                await self.collection.insert_one(with_outbox(doc, events))
            except DuplicateKeyError as exc:
                raise StaleWrite(key) from exc
            return
        update = push_outbox({"$set": fields, "$push": {"history": entry}}, events)
        result = await self.collection.update_one({"_id": key, "version": previous}, update)
        if result.matched_count == 0:
            raise StaleWrite(key)


class MongoDeployments:
    """`deployments`: the latest known state of each deployment, newer facts win."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection: AsyncCollection[Document] = db["deployments"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("model_name", ASCENDING), ("version", ASCENDING)])

    async def apply(self, key: str, fields: Document, generation: int, at: datetime) -> bool:
        """Upsert unless a newer fact (higher generation, or same and later) is stored."""
        newer_or_equal: Any = [
            {"generation": {"$lt": generation}},
            {"generation": generation, "occurred_at": {"$lte": at}},
        ]
        doc = {**fields, "generation": generation, "occurred_at": at}
        try:
            await self.collection.update_one(
                {"_id": key, "$or": newer_or_equal}, {"$set": doc}, upsert=True
            )
        except DuplicateKeyError:  # the stored fact is newer: ignore this one
            return False
        return True

    async def holding(self, name: str, version: int) -> list[Document]:
        query = {"model_name": name, "version": version}
        return await self.collection.find(query).to_list()


class MongoBlobs:
    """`blobs`: files uploaded in parts, by (sha256, part size, block digest, blake3); first
    wins."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection: AsyncCollection[Document] = db["blobs"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("key", ASCENDING)])

    async def get(self, blob_id: str) -> Document | None:
        return await self.collection.find_one({"_id": blob_id})

    async def holds(self, key: str) -> bool:
        return await self.collection.find_one({"key": key}, projection={"_id": 1}) is not None

    async def add(self, doc: Document) -> Document:
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:
            existing = await self.get(str(doc["_id"]))
            if existing is not None:
                return existing
            raise
        return doc


class MongoAudit:
    """`audit`: append-only; the event id is the key, so a redelivery writes nothing new."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection: AsyncCollection[Document] = db["audit"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("model_name", ASCENDING), ("at", DESCENDING)])

    async def record(self, entry: Document) -> None:
        try:
            await self.collection.insert_one(entry)
        except DuplicateKeyError:
            return

    async def of_model(self, name: str, page: int, limit: int) -> tuple[list[Document], int]:
        query = {"model_name": name}
        total = await self.collection.count_documents(query)
        cursor = self.collection.find(query).sort([("at", DESCENDING), ("_id", DESCENDING)])
        return await cursor.skip((page - 1) * limit).limit(limit).to_list(), total

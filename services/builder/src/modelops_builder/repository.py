"""MongoDB collections of the builder: packages, images (one per manifest digest), conversions,
profiles and auto-build switches. Every state change and its events are one document write."""

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from modelops_contracts.events import Event
from modelops_servicekit.mongo import Document
from modelops_servicekit.outbox import push_outbox, with_outbox


def now() -> datetime:
    return datetime.now(UTC)


class MongoBuilderStore:
    """The builder's documents; `_id` is the natural key of each (idempotent writes)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.packages = db["packages"]
        self.images = db["images"]
        self.conversions = db["conversions"]
        self.profiles = db["profiles"]
        self.auto_build = db["auto_build"]

    async def ensure_indexes(self) -> None:
        await self.packages.create_index([("model_name", 1), ("version", -1)])
        await self.images.create_index("package_id")
        await self.profiles.create_index("package_id")

    # packages -------------------------------------------------------------------------
    async def insert_package(self, doc: Document) -> tuple[Document, bool]:
        """(the package, created now); the same manifest returns the existing package."""
        try:
            await self.packages.insert_one(doc)
            return doc, True
        except DuplicateKeyError:
            existing = await self.packages.find_one({"_id": doc["_id"]})
            assert existing is not None
            return existing, False

    async def package(self, package_id: str) -> Document | None:
        return await self.packages.find_one({"_id": package_id})

    async def list_packages(self, model_name: str | None, limit: int) -> list[Document]:
        query = {"model_name": model_name} if model_name else {}
        cursor = self.packages.find(query).sort([("created_at", -1)]).limit(limit)
        return [d async for d in cursor]

    # images ---------------------------------------------------------------------------
    async def claim_build(self, doc: Document) -> tuple[Document, bool]:
        """Start a build for a manifest digest unless one is running or built (failed retries)."""
        try:
            await self.images.insert_one(doc)
            return doc, True
        except DuplicateKeyError:
            pass
        retry = {k: v for k, v in doc.items() if k != "_id"}
        claimed = await self.images.find_one_and_update(
            {"_id": doc["_id"], "status": "failed"}, {"$set": retry}, return_document=True
        )
        if claimed is not None:
            return claimed, True
        existing = await self.images.find_one({"_id": doc["_id"]})
        assert existing is not None
        return existing, False

    async def image(self, image_id: str) -> Document | None:
        return await self.images.find_one({"_id": image_id})

    async def image_for_package(self, package_id: str) -> Document | None:
        cursor = self.images.find({"package_id": package_id}).sort([("started_at", -1)]).limit(1)
        docs = [d async for d in cursor]
        return docs[0] if docs else None

    async def list_images(self, limit: int) -> list[Document]:
        cursor = self.images.find({}).sort([("started_at", -1)]).limit(limit)
        return [d async for d in cursor]

    async def finish_image(
        self, image_id: str, fields: dict[str, Any], events: list[Event]
    ) -> None:
        await self.images.update_one(
            {"_id": image_id}, push_outbox({"$set": {**fields, "finished_at": now()}}, events)
        )

    async def announce(self, collection: str, doc_id: str, events: list[Event]) -> None:
        """Events about an unchanged document (an image reused for a new request)."""
        coll = self.images if collection == "images" else self.profiles
        await coll.update_one({"_id": doc_id}, push_outbox({"$inc": {"announced": 1}}, events))

    # conversions and profiles -----------------------------------------------------------
    async def save_conversion(self, doc: Document) -> None:
        await self.conversions.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def conversion(self, conversion_id: str) -> Document | None:
        return await self.conversions.find_one({"_id": conversion_id})

    async def save_profile(self, doc: Document, events: list[Event]) -> None:
        await self.profiles.insert_one(with_outbox(doc, events))

    async def profile(self, profile_id: str) -> Document | None:
        return await self.profiles.find_one({"_id": profile_id}, {"_outbox": 0})

    async def list_profiles(self, package_id: str | None) -> list[Document]:
        query = {"package_id": package_id} if package_id else {}
        return [
            d async for d in self.profiles.find(query, {"_outbox": 0}).sort([("created_at", -1)])
        ]

    # auto-build -------------------------------------------------------------------------
    async def set_auto_build(self, model_name: str, enabled: bool, options: Document) -> None:
        doc = {"enabled": enabled, "options": options, "updated_at": now()}
        await self.auto_build.update_one({"_id": model_name}, {"$set": doc}, upsert=True)

    async def auto_build_options(self, model_name: str) -> Document | None:
        doc = await self.auto_build.find_one({"_id": model_name})
        return doc["options"] if doc and doc.get("enabled") else None

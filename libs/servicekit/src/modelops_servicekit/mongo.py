"""PyMongo's async API: one client per process, one database per service."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from modelops_servicekit.settings import MongoSettings

Document = dict[str, Any]


@asynccontextmanager
async def open_mongo(settings: MongoSettings) -> AsyncIterator[AsyncDatabase[Document]]:
    """Connect, check the server answers, yield the service's database, close on exit."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        settings.url, serverSelectionTimeoutMS=10_000, tz_aware=True, uuidRepresentation="standard"
    )
    try:
        await client.admin.command("ping")
        yield client[settings.database]
    finally:
        await client.close()


async def ping(db: AsyncDatabase[Document]) -> bool:
    """True when the server answers."""
    result = await db.client.admin.command("ping")
    return bool(result.get("ok"))

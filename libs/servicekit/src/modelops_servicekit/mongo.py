"""PyMongo's async API: one client per process, one database per service.

On FerretDB 1.x an update is not atomic: it reads the matching documents, applies the update
and writes them back in separate steps, so two concurrent updates of one document can each
write back a copy without the other's change (measured: 5 of 200 `$set`s lost against a
concurrent `$pull`). That breaks a compare-and-set and loses outbox events when the relay
pulls a published event while the owner writes the next. There, the database hands out
collections whose updates and deletes run one at a time per collection in this process;
MongoDB's single-document writes are atomic and run concurrently.
"""

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from modelops_servicekit.settings import MongoSettings

Document = dict[str, Any]


SERIALIZED_WRITES = (
    "update_one",
    "update_many",
    "replace_one",
    "find_one_and_update",
    "find_one_and_replace",
    "find_one_and_delete",
    "delete_one",
    "delete_many",
    "bulk_write",
)
"""The writes that read a stored document before they write it (inserts do not)."""


class SerialCollection(AsyncCollection[Document]):
    """A collection whose SERIALIZED_WRITES run one at a time in this process."""

    def __init__(self, database: "SerialDatabase", name: str) -> None:
        super().__init__(database, name)
        self._writes = database.write_lock(name)


def _one_at_a_time(name: str) -> Callable[..., Awaitable[Any]]:
    write = getattr(AsyncCollection, name)

    @functools.wraps(write)
    async def serialized(self: SerialCollection, *args: Any, **kwargs: Any) -> Any:
        async with self._writes:
            return await write(self, *args, **kwargs)

    return serialized


for _name in SERIALIZED_WRITES:
    setattr(SerialCollection, _name, _one_at_a_time(_name))


class SerialDatabase(AsyncDatabase[Document]):
    """A database (on FerretDB) whose collections serialize their updates per collection."""

    def __init__(self, client: AsyncMongoClient[Document], name: str) -> None:
        super().__init__(client, name)
        self._write_locks: dict[str, asyncio.Lock] = {}

    def write_lock(self, collection: str) -> asyncio.Lock:
        return self._write_locks.setdefault(collection, asyncio.Lock())

    def __getitem__(self, name: str) -> AsyncCollection[Document]:
        return SerialCollection(self, name)


async def is_ferretdb(client: AsyncMongoClient[Document]) -> bool:
    """FerretDB names its version in buildInfo (`ferretdbVersion`)."""
    info = await client.admin.command("buildInfo")
    return "ferretdbVersion" in info


@asynccontextmanager
async def open_mongo(settings: MongoSettings) -> AsyncIterator[AsyncDatabase[Document]]:
    """Connect, check the server answers, yield the service's database, close on exit."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        settings.url, serverSelectionTimeoutMS=10_000, tz_aware=True, uuidRepresentation="standard"
    )
    try:
        await client.admin.command("ping")
        if await is_ferretdb(client):
            yield SerialDatabase(client, settings.database)
        else:
            yield client[settings.database]
    finally:
        await client.close()


async def ping(db: AsyncDatabase[Document]) -> bool:
    """True when the server answers."""
    result = await db.client.admin.command("ping")
    return bool(result.get("ok"))

"""Recording fakes of the ports, for unit tests of pure logic. They record, they don't mock."""

import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

from modelops_contracts.events import Event
from modelops_servicekit.errors import Invalid, NotFound
from modelops_servicekit.objects import StoredObject, blob_key


class InMemoryEventPublisher:
    """Keeps what was published, in order."""

    def __init__(self) -> None:
        self.published: list[Event] = []

    async def publish(self, event: Event) -> None:
        self.published.append(event)


class InMemoryObjectStore:
    """Objects in a dict, with the same digest rules as the real store."""

    def __init__(self, bucket: str = "test") -> None:
        self.bucket = bucket
        self.objects: dict[str, bytes] = {}

    async def put_file(self, path: Path, key: str | None = None) -> StoredObject:
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        key = key or blob_key(sha)
        self.objects[key] = data
        return StoredObject(key, len(data), sha)

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        expected_sha256: str | None = None,
        length: int | None = None,
    ) -> StoredObject:
        data = b"".join([c async for c in chunks])
        if length is not None and len(data) != length:
            raise Invalid(f"upload of {key} has {len(data)} bytes, not {length}")
        sha = hashlib.sha256(data).hexdigest()
        if expected_sha256 and sha != expected_sha256:
            raise Invalid(f"sha256 mismatch for {key}")
        self.objects[key] = data
        return StoredObject(key, len(data), sha)

    async def get_stream(self, key: str) -> AsyncIterator[bytes]:
        if key not in self.objects:
            raise NotFound(f"no object {key!r}")
        yield self.objects[key]

    async def get_file(self, key: str, path: Path) -> StoredObject:
        data = b"".join([c async for c in self.get_stream(key)])
        path.write_bytes(data)
        return StoredObject(key, len(data), hashlib.sha256(data).hexdigest())

    async def stat(self, key: str) -> StoredObject | None:
        data = self.objects.get(key)
        return (
            None if data is None else StoredObject(key, len(data), hashlib.sha256(data).hexdigest())
        )

    async def delete(self, key: str) -> None:
        self.objects.pop(key, None)

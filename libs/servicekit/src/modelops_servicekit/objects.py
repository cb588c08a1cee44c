"""The artifact store: MinIO through its (synchronous) SDK, wrapped in threads.

Objects are streamed (multi-part upload, chunked download), every object records its sha256 as
user metadata, downloads are verified against it, and blobs can be stored content-addressed.
"""

import asyncio
import contextlib
import hashlib
import queue
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, cast

from minio import Minio
from minio.error import S3Error

from modelops_servicekit.errors import Invalid, NotFound
from modelops_servicekit.settings import ObjectStoreSettings

PART_SIZE = 16 * 1024 * 1024
CHUNK = 1024 * 1024
SHA256_META = "sha256"
Metadata = dict[str, str | list[str] | tuple[str]] | None


@dataclass(frozen=True)
class StoredObject:
    """An object in the store: where, how big and its digest."""

    key: str
    size: int
    sha256: str


def blob_key(sha256: str) -> str:
    """The content-addressed key of a blob."""
    return f"blobs/sha256/{sha256[:2]}/{sha256}"


def sha256_file(path: Path) -> tuple[str, int]:
    """Digest and size of a local file, read in chunks."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class ObjectStore(Protocol):
    """What services need from an artifact store."""

    bucket: str

    async def put_file(self, path: Path, key: str | None = None) -> StoredObject: ...
    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], expected_sha256: str | None = None
    ) -> StoredObject: ...
    async def get_stream(self, key: str) -> AsyncIterator[bytes]: ...
    async def get_file(self, key: str, path: Path) -> StoredObject: ...
    async def stat(self, key: str) -> StoredObject | None: ...
    async def delete(self, key: str) -> None: ...


class _QueueReader:
    """A blocking file-like fed from the event loop; hashes what passes through."""

    def __init__(self) -> None:
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self.digest = hashlib.sha256()
        self.size = 0
        self._buffer = bytearray()
        self._done = False

    def read(self, n: int = -1) -> bytes:
        while not self._done and (n < 0 or len(self._buffer) < n):
            chunk = self.queue.get()
            if chunk is None:
                self._done = True
            else:
                self._buffer += chunk
        take = len(self._buffer) if n < 0 else n
        out = bytes(self._buffer[:take])
        del self._buffer[:take]
        self.digest.update(out)
        self.size += len(out)
        return out


class MinioObjectStore:
    """ObjectStore on MinIO (or any S3 API)."""

    def __init__(self, settings: ObjectStoreSettings, bucket: str | None = None) -> None:
        self.bucket = bucket or settings.bucket
        self.client = Minio(
            settings.endpoint,
            access_key=settings.access_key.get_secret_value(),
            secret_key=settings.secret_key.get_secret_value(),
            secure=settings.secure,
        )

    async def ensure_bucket(self) -> None:
        if not await asyncio.to_thread(self.client.bucket_exists, self.bucket):
            with contextlib.suppress(S3Error):  # created concurrently by a replica
                await asyncio.to_thread(self.client.make_bucket, self.bucket)

    async def ping(self) -> bool:
        return bool(await asyncio.to_thread(self.client.bucket_exists, self.bucket))

    async def put_file(self, path: Path, key: str | None = None) -> StoredObject:
        """Upload a file (hashed first); without a key it is stored content-addressed, once."""
        sha, size = await asyncio.to_thread(sha256_file, path)
        key = key or blob_key(sha)
        existing = await self.stat(key)
        if existing is not None and existing.sha256 == sha:
            return existing
        await asyncio.to_thread(
            self.client.fput_object,
            self.bucket,
            key,
            str(path),
            metadata={SHA256_META: sha},
            part_size=PART_SIZE,
        )
        return StoredObject(key, size, sha)

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], expected_sha256: str | None = None
    ) -> StoredObject:
        """Stream an upload of unknown length; a digest mismatch deletes it and raises Invalid."""
        reader = _QueueReader()
        metadata: Metadata = {SHA256_META: expected_sha256} if expected_sha256 else None
        upload = asyncio.create_task(
            asyncio.to_thread(
                self.client.put_object,
                self.bucket,
                key,
                cast(BinaryIO, reader),
                -1,
                metadata=metadata,
                part_size=PART_SIZE,
            )
        )
        try:
            async for chunk in chunks:
                if chunk:
                    await asyncio.to_thread(reader.queue.put, chunk)
        finally:
            await asyncio.to_thread(reader.queue.put, None)
            await upload
        actual = reader.digest.hexdigest()
        if expected_sha256 and actual != expected_sha256:
            await self.delete(key)
            raise Invalid(f"sha256 mismatch for {key}: expected {expected_sha256}, got {actual}")
        return StoredObject(key, reader.size, actual)

    async def stat(self, key: str) -> StoredObject | None:
        try:
            st = await asyncio.to_thread(self.client.stat_object, self.bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NoSuchBucket"):
                return None
            raise
        meta = {k.lower(): v for k, v in (st.metadata or {}).items()}
        sha = meta.get(f"x-amz-meta-{SHA256_META}", "")
        return StoredObject(key, int(st.size or 0), sha)

    async def get_stream(self, key: str) -> AsyncIterator[bytes]:
        """Stream an object; raises Invalid at the end if it does not match its recorded sha256."""
        stored = await self.stat(key)
        if stored is None:
            raise NotFound(f"no object {key!r}")
        response = await asyncio.to_thread(self.client.get_object, self.bucket, key)
        digest = hashlib.sha256()
        try:
            while chunk := await asyncio.to_thread(response.read, CHUNK):
                digest.update(chunk)
                yield chunk
        finally:
            response.close()
            response.release_conn()
        if stored.sha256 and digest.hexdigest() != stored.sha256:
            actual = digest.hexdigest()
            raise Invalid(f"object {key!r} is corrupt: sha256 {actual} != {stored.sha256}")

    async def get_file(self, key: str, path: Path) -> StoredObject:
        """Download to a file, verified; a corrupt download leaves no file behind."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        size = 0
        try:
            with partial.open("wb") as f:
                async for chunk in self.get_stream(key):
                    await asyncio.to_thread(f.write, chunk)
                    size += len(chunk)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(path)
        stored = await self.stat(key)
        return StoredObject(key, size, stored.sha256 if stored else "")

    async def put_folder(self, folder: Path, prefix: str) -> list[StoredObject]:
        """Upload every file of a folder under one prefix (keys keep relative paths)."""
        files = await asyncio.to_thread(lambda: sorted(p for p in folder.rglob("*") if p.is_file()))
        if not files:
            raise Invalid(f"folder {folder} is empty")
        prefix = prefix.rstrip("/")
        return [
            await self.put_file(p, f"{prefix}/{p.relative_to(folder).as_posix()}") for p in files
        ]

    async def get_folder(self, prefix: str, folder: Path) -> list[StoredObject]:
        """Download every object under a prefix into a folder, each verified."""
        prefix = prefix.rstrip("/") + "/"
        keys = await self.list(prefix)
        if not keys:
            raise NotFound(f"no objects under {prefix!r}")
        return [await self.get_file(k, folder / k.removeprefix(prefix)) for k in keys]

    async def list(self, prefix: str) -> list[str]:
        objs = await asyncio.to_thread(
            lambda: list(self.client.list_objects(self.bucket, prefix=prefix, recursive=True))
        )
        return [str(o.object_name) for o in objs]

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.remove_object, self.bucket, key)

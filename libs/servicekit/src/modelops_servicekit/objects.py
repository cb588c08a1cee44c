"""The artifact store: MinIO through its (synchronous) SDK, wrapped in threads.

Objects are streamed (multi-part upload, chunked download), every object records its sha256 as
user metadata, downloads are verified against it, and blobs can be stored content-addressed.
"""

import asyncio
import contextlib
import hashlib
import queue
import threading
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, cast

from minio import Minio
from minio.error import S3Error
from urllib3 import BaseHTTPResponse

from modelops_servicekit.errors import Invalid, NotFound
from modelops_servicekit.s3direct import CHECKSUM_MODE, SINGLE_PUT_MAX, checksum_hex, put_verified
from modelops_servicekit.settings import ObjectStoreSettings

PART_SIZE = 16 * 1024 * 1024
PARALLEL_PARTS = 3
CHUNK = 1024 * 1024
READ_CHUNK = 4 * 1024 * 1024
"""Downloads are read from the store in chunks of this size..."""
READ_AHEAD = 4
"""...at most this many chunks ahead of the consumer."""
FEED_BYTES = 4 * 1024 * 1024
"""Uploads are handed to the uploading thread in batches of about this size..."""
FEED_DEPTH = 4
"""...at most this many batches ahead of it."""
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
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest(), f.tell()


class ObjectStore(Protocol):
    """What services need from an artifact store."""

    bucket: str

    async def put_file(self, path: Path, key: str | None = None) -> StoredObject: ...
    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        expected_sha256: str | None = None,
        length: int | None = None,
    ) -> StoredObject: ...
    def get_stream(self, key: str) -> AsyncIterator[bytes]: ...
    async def get_file(self, key: str, path: Path) -> StoredObject: ...
    async def stat(self, key: str) -> StoredObject | None: ...
    async def delete(self, key: str) -> None: ...


class _UploadAborted(Exception):
    """The producer of a streamed upload failed: the multi-part upload must be aborted."""


_ABORT = _UploadAborted("upload source failed")
_Batch = list[bytes] | _UploadAborted | None


class _PartReader:
    """A blocking file-like fed from the event loop with batches of body chunks.

    `read(n)` joins exactly the chunks it needs (one copy per byte) and hashes them in the
    uploading thread, so hashing overlaps receiving (hashlib releases the GIL).
    """

    def __init__(self) -> None:
        self.queue: queue.Queue[_Batch] = queue.Queue(maxsize=FEED_DEPTH)
        self.digest = hashlib.sha256()
        self.size = 0
        self._chunks: deque[bytes] = deque()
        self._pending = 0
        self._done = False

    def _fill(self, n: int) -> None:
        while not self._done and (n < 0 or self._pending < n):
            batch = self.queue.get()
            if isinstance(batch, _UploadAborted):
                raise batch  # minio aborts the multi-part upload: nothing is stored
            if batch is None:
                self._done = True
            else:
                self._chunks.extend(batch)
                self._pending += sum(len(c) for c in batch)

    def read(self, n: int = -1) -> bytes:
        self._fill(n)
        take = self._pending if n < 0 else min(n, self._pending)
        parts: list[bytes] = []
        missing = take
        while missing:
            chunk = self._chunks.popleft()
            if len(chunk) > missing:
                self._chunks.appendleft(chunk[missing:])
                chunk = chunk[:missing]
            parts.append(chunk)
            missing -= len(chunk)
        self._pending -= take
        out = b"".join(parts)  # a single chunk is returned as is, without a copy
        self.digest.update(out)
        self.size += len(out)
        return out


async def _feed(reader: _PartReader, upload: "asyncio.Task[object]", batch: _Batch) -> None:
    """Hand one batch to the uploading thread; re-raise its error if it died meanwhile."""
    try:
        reader.queue.put_nowait(batch)
        return
    except queue.Full:
        pass
    while True:
        try:
            await asyncio.to_thread(reader.queue.put, batch, True, 1.0)
            return
        except queue.Full:
            if upload.done():
                upload.result()
                return


async def _batches(chunks: AsyncIterable[bytes]) -> AsyncIterator[list[bytes]]:
    """The chunks grouped into lists of about FEED_BYTES (few hand-offs, no joining)."""
    batch: list[bytes] = []
    pending = 0
    async for chunk in chunks:
        if chunk:
            batch.append(chunk)
            pending += len(chunk)
            if pending >= FEED_BYTES:
                yield batch
                batch, pending = [], 0
    if batch:
        yield batch


_Read = bytes | BaseException | None


class _ReadAhead:
    """Reads (and hashes) an object response in a thread, a bounded number of chunks ahead.

    Network reading and hashing overlap with the consumer (e.g. writing an HTTP response).
    """

    def __init__(self, response: BaseHTTPResponse, depth: int = READ_AHEAD) -> None:
        self.digest = hashlib.sha256()
        self._response = response
        self._loop = asyncio.get_running_loop()
        self._items: asyncio.Queue[_Read] = asyncio.Queue()
        self._slots = threading.Semaphore(depth)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="object-read-ahead", daemon=True)
        self._thread.start()

    def _deliver(self, item: _Read) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
            self._loop.call_soon_threadsafe(self._items.put_nowait, item)

    def _run(self) -> None:
        try:
            while True:
                self._slots.acquire()
                if self._stopped.is_set():
                    return
                chunk: bytes = self._response.read(READ_CHUNK)
                if chunk:
                    self.digest.update(chunk)
                self._deliver(chunk or None)
                if not chunk:
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            self._deliver(exc)
        finally:
            self._response.close()
            self._response.release_conn()

    async def next(self) -> bytes | None:
        item = await self._items.get()
        self._slots.release()
        if isinstance(item, BaseException):
            raise item
        return item

    def stop(self) -> None:
        self._stopped.set()
        self._slots.release()


class MinioObjectStore:
    """ObjectStore on MinIO (or any S3 API)."""

    def __init__(self, settings: ObjectStoreSettings, bucket: str | None = None) -> None:
        self.bucket = bucket or settings.bucket
        self.settings = settings
        self.client = Minio(
            settings.endpoint,
            access_key=settings.access_key.get_secret_value(),
            secret_key=settings.secret_key.get_secret_value(),
            secure=settings.secure,
            region=settings.region,
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
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        expected_sha256: str | None = None,
        length: int | None = None,
    ) -> StoredObject:
        """Stream an upload (of `length` bytes if known, which then must arrive in full).

        With a known digest and length (up to S3's single-PUT limit) the store verifies the
        bytes itself and nothing is hashed here. Otherwise the upload goes multi-part, hashed
        on the way: a digest mismatch deletes the object. Either way a mismatch raises Invalid,
        and a broken or short source leaves nothing half-written stored.
        """
        if expected_sha256 and length is not None and length <= SINGLE_PUT_MAX:
            await put_verified(self.settings, self.bucket, key, chunks, expected_sha256, length)
            return StoredObject(key, length, expected_sha256)
        reader = _PartReader()
        metadata: Metadata = {SHA256_META: expected_sha256} if expected_sha256 else None
        upload = asyncio.create_task(
            asyncio.to_thread(
                self.client.put_object,
                self.bucket,
                key,
                cast(BinaryIO, reader),
                -1 if length is None else length,
                metadata=metadata,
                part_size=PART_SIZE,
                num_parallel_uploads=PARALLEL_PARTS,
            )
        )
        try:
            async for batch in _batches(chunks):
                await _feed(reader, upload, batch)
        except BaseException:  # a broken source must not complete a truncated object
            with contextlib.suppress(BaseException):
                await _feed(reader, upload, _ABORT)
                await upload
            raise
        await _feed(reader, upload, None)
        try:
            await upload
        except OSError as exc:  # minio: "stream having not enough data"
            if length is not None and reader.size < length:
                raise Invalid(f"upload of {key} is shorter than {length} bytes") from exc
            raise
        actual = reader.digest.hexdigest()
        if expected_sha256 and actual != expected_sha256:
            await self.delete(key)
            raise Invalid(f"sha256 mismatch for {key}: expected {expected_sha256}, got {actual}")
        if length is not None and reader.size != length:
            await self.delete(key)
            raise Invalid(f"upload of {key} has {reader.size} bytes, not {length}")
        return StoredObject(key, reader.size, actual)

    async def stat(self, key: str) -> StoredObject | None:
        """Size and sha256 of an object: its recorded digest, else the SHA-256 checksum the
        store verified when it was uploaded (by a signed link), else an empty digest."""
        try:
            st = await asyncio.to_thread(
                self.client.stat_object, self.bucket, key, extra_headers=CHECKSUM_MODE
            )
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NoSuchBucket"):
                return None
            raise
        meta = {k.lower(): v for k, v in (st.metadata or {}).items()}
        sha = meta.get(f"x-amz-meta-{SHA256_META}") or checksum_hex(meta)
        return StoredObject(key, int(st.size or 0), sha)

    async def get_stream(self, key: str) -> AsyncIterator[bytes]:
        """Stream an object; raises Invalid at the end if it does not match its recorded sha256."""
        stored = await self.stat(key)
        if stored is None:
            raise NotFound(f"no object {key!r}")
        response = await asyncio.to_thread(self.client.get_object, self.bucket, key)
        ahead = _ReadAhead(response)
        try:
            while chunk := await ahead.next():
                yield chunk
        finally:
            ahead.stop()
        if stored.sha256 and ahead.digest.hexdigest() != stored.sha256:
            actual = ahead.digest.hexdigest()
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

"""Where a file's bytes are, and uploads in parts.

A small file is one object at `blob_key(sha256)`, stored only if the store verified that
digest. A large one is uploaded in parts straight into the store, while the client hashes it:
the store verifies every part's SHA-256 as it arrives, and the registry records the file under
its sha256 *and* the digest of its parts' digests (`blocks`), which is what the store checked.
Its object key comes from the upload, so the `blobs` collection maps the two digests to it.

The client also sends the file's BLAKE3, hashed from the same reads as the parts, and
downloads check that (at about 3.5 times SHA-256's speed) instead of every block's SHA-256.
The store cannot check it, so it is part of the entry's identity too.

Two uploads of the same bytes end at the same entry (the first one stored wins, the second
object is dropped, unless an entry already holds it: a completion repeated with other claims
cannot delete bytes in use). Bytes that merely claim another file's sha256 cannot take its
place: their block digest differs, so their entry does too; and a wrong BLAKE3 claimed for the
same bytes makes an entry of its own, so it cannot spoil the downloads of an honest upload's
versions.
"""

import asyncio
import math
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any

from modelops_contracts.api.registry import (
    MAX_PARTS,
    BlockDigest,
    CompleteUpload,
    FileEntry,
    FileLink,
    MiB,
    UploadStarted,
    VersionFiles,
)
from modelops_registry.app_deps import Deps
from modelops_registry.ports import Document
from modelops_servicekit.errors import Invalid, NotFound, Unavailable
from modelops_servicekit.objects import blob_key
from modelops_servicekit.s3direct import Part

PART_SIZE = 16 * MiB
"""The block size of uploads in parts (larger only when 10,000 parts would not hold a file)."""
LINK_RATE = 5 * MiB
"""Part links stay valid at least as long as the file takes at this rate (bytes/s)..."""
LINK_TTL_MAX = timedelta(days=7)
"""...up to the longest a signed link may live."""
UPLOAD_RE = re.compile(r"^[0-9a-f]{32}$")
LOOKUPS = 16
"""Blob lookups of one request at a time."""


def blocks_id(sha256: str, blocks: BlockDigest, blake3: str | None) -> str:
    base = f"{sha256}.{blocks.part_size}.{blocks.sha256}"
    return f"{base}.{blake3}" if blake3 else base


def part_size_for(size: int) -> int:
    """16 MiB, or the next whole MiB that keeps the file within 10,000 parts."""
    return max(PART_SIZE, math.ceil(size / MAX_PARTS / MiB) * MiB)


def upload_key(upload: str) -> str:
    return f"blobs/parts/{upload}"


async def locate(deps: Deps, entry: FileEntry) -> str:
    """The object key of a file's bytes; NotFound if no upload stored them."""
    if entry.blocks is None:
        return blob_key(entry.sha256)
    doc = await deps.blobs.get(blocks_id(entry.sha256, entry.blocks, entry.blake3))
    if doc is None:
        raise NotFound(f"the stored blob of {entry.path!r} is missing")
    return str(doc["key"])


async def file_links(deps: Deps, name: str, doc: Document) -> VersionFiles:
    """A version's files, each with a signed link to its bytes (None where links are off),
    as short-lived as a file's 307: the store checks a link when a GET starts, and a client
    whose link expired before it got there asks for the file's 307."""
    files = [FileEntry.model_validate(f) for f in doc["files"]]
    signer = deps.links
    if signer is None:
        links = [FileLink(**f.model_dump(), url=None) for f in files]
        return VersionFiles(name=name, version=doc["version"], files=links, expires_at=None)
    ttl = timedelta(seconds=deps.settings.store_link_ttl_s)
    expires = datetime.now(UTC) + ttl
    limit = asyncio.Semaphore(LOOKUPS)

    async def link(f: FileEntry) -> FileLink:
        async with limit:
            key = await locate(deps, f)
        url = signer.download(key, PurePosixPath(f.path).name, ttl)
        return FileLink(**f.model_dump(), url=url)

    links = await asyncio.gather(*(link(f) for f in files))
    return VersionFiles(name=name, version=doc["version"], files=links, expires_at=expires)


async def problem(deps: Deps, entry: FileEntry) -> str | None:
    """What is wrong with a file's stored bytes (None: stored with its size and digest)."""
    f = entry
    if f.blocks is None:
        stored = await deps.store.stat(blob_key(f.sha256))
        if stored is None:
            return f"{f.path}: blob {f.sha256} not uploaded"
        if stored.sha256 != f.sha256:
            return f"{f.path}: stored blob's sha256 is {stored.sha256 or 'unknown'}, not {f.sha256}"
        size = stored.size
    else:
        doc = await deps.blobs.get(blocks_id(f.sha256, f.blocks, f.blake3))
        if doc is None:
            blake3 = f", blake3 {f.blake3}" if f.blake3 else ""
            return f"{f.path}: blob {f.sha256} (blocks {f.blocks.sha256}{blake3}) not uploaded"
        size = int(doc["size"])
    if size != f.size:
        return f"{f.path}: stored blob has size {size}, manifest says {f.size}"
    return None


def _ttl(deps: Deps, size: int) -> timedelta:
    least = timedelta(seconds=deps.settings.store_link_ttl_s)
    return min(max(least, timedelta(seconds=size / LINK_RATE)), LINK_TTL_MAX)


async def start_upload(deps: Deps, size: int) -> UploadStarted:
    """A new upload in parts: one signed link per part."""
    if deps.links is None or deps.parts is None:
        raise NotFound("uploads in parts are off here: PUT /v1/blobs/{sha256} instead")
    upload = uuid.uuid4().hex
    key = upload_key(upload)
    upload_id = await deps.parts.start(key)
    part_size = part_size_for(size)
    ttl = _ttl(deps, size)
    links = [
        deps.links.upload_part(key, upload_id, number, ttl)
        for number in range(1, math.ceil(size / part_size) + 1)
    ]
    return UploadStarted(
        upload=upload,
        upload_id=upload_id,
        part_size=part_size,
        parts=links,
        expires_at=datetime.now(UTC) + ttl,
    )


def _check_parts(body: CompleteUpload) -> list[Part]:
    count = math.ceil(body.size / body.part_size)
    numbers = [p.number for p in body.parts]
    if numbers != list(range(1, count + 1)):
        raise Invalid(
            f"{body.size} bytes in parts of {body.part_size} make parts 1..{count} in order; "
            f"got {numbers[:5]}{'...' if len(numbers) > 5 else ''}",
            field="parts",
        )
    return [Part(p.number, p.etag, p.sha256) for p in body.parts]


async def complete_upload(deps: Deps, upload: str, body: CompleteUpload) -> dict[str, Any]:
    """Join the parts (the store checks each part's digest) and record the blob.

    Idempotent: completing an upload again answers what the first completion recorded.
    """
    if not UPLOAD_RE.fullmatch(upload):
        raise Invalid(f"invalid upload {upload!r}: 32 lower-case hex digits", field="upload")
    if deps.parts is None:
        raise NotFound("uploads in parts are off here: PUT /v1/blobs/{sha256} instead")
    parts = _check_parts(body)
    key = upload_key(upload)
    refused: Invalid | None = None
    try:
        await deps.parts.complete(key, body.upload_id, parts)
    except Invalid as exc:
        refused = exc  # unless an earlier completion joined them (this is a retry)
    joined = await deps.parts.joined(key)
    if joined is None:
        raise refused or Unavailable(f"the store joined upload {upload} but has no object")
    size, composite = joined
    if size != body.size:
        await _drop_unless_recorded(deps, key)
        raise Invalid(f"the parts hold {size} bytes, not {body.size}", field="size")
    if not composite:
        raise Unavailable("the object store kept no SHA-256 checksum of the parts")
    blocks = BlockDigest(part_size=body.part_size, sha256=composite)
    doc = {
        "_id": blocks_id(body.sha256, blocks, body.blake3),
        "key": key,
        "size": size,
        "created_at": datetime.now(UTC),
    }
    stored = await deps.blobs.add(doc)
    if stored["key"] != key:  # the same bytes were stored before: keep one copy
        await _drop_unless_recorded(deps, key)
    entry = {"sha256": body.sha256, "size": size, "blocks": blocks.model_dump()}
    if body.blake3:
        entry["blake3"] = body.blake3
    return {**entry, "existed": stored["key"] != key}


async def _drop_unless_recorded(deps: Deps, key: str) -> None:
    """Delete an upload's object unless an entry holds it: completing an upload again with
    other claims must not take the bytes from under the entry its first completion made."""
    if not await deps.blobs.holds(key):
        await deps.store.delete(key)

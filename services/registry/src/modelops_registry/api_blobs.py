"""Streaming bytes in and out: `PUT /v1/blobs/{sha256}`, file and zip downloads of versions."""

import re
import zipfile
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse

from modelops_contracts.api.registry import (
    CompleteUpload,
    FileEntry,
    StartUpload,
    UploadStarted,
    VersionFiles,
)
from modelops_registry import blobs, domain, handlers
from modelops_registry.api import DepsDep, VersionRef
from modelops_registry.app_deps import Deps
from modelops_registry.handlers_datasets import resolve_dataset
from modelops_registry.ports import Document
from modelops_servicekit.errors import Invalid, NotFound
from modelops_servicekit.objects import CHUNK, blob_key
from modelops_servicekit.s3direct import checksum_header

router = APIRouter(tags=["files"])
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
Sha = Annotated[str, Path(description="lower-case hex sha256 of the content")]


def _check_sha(sha256: str) -> str:
    if not SHA256_RE.fullmatch(sha256):
        raise Invalid(f"invalid sha256 {sha256!r}: 64 lower-case hex digits", field="sha256")
    return sha256


def _declared_length(request: Request) -> int | None:
    """The body's Content-Length, if the client sent one (a chunked body has none)."""
    value = request.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


@router.head("/v1/blobs/{sha256}", summary="Is this blob stored? (Content-Length: its size)")
async def has_blob(sha256: Sha, deps: DepsDep) -> Response:
    stored = await deps.store.stat(blob_key(_check_sha(sha256)))
    if stored is None:
        return Response(status_code=status.HTTP_404_NOT_FOUND)
    return Response(headers={"content-length": str(stored.size), "etag": f'"{sha256}"'})


@router.put(
    "/v1/blobs/{sha256}",
    summary="Upload a blob (raw body, streamed); 200 without reading it if already stored",
    status_code=status.HTTP_201_CREATED,
)
async def put_blob(sha256: Sha, request: Request, deps: DepsDep) -> JSONResponse:
    key = blob_key(_check_sha(sha256))
    existing = await deps.store.stat(key)
    if existing is not None and existing.sha256 == sha256:
        return JSONResponse({"sha256": sha256, "size": existing.size, "existed": True})
    try:
        length = _declared_length(request)
        stored = await deps.store.put_stream(
            key, request.stream(), expected_sha256=sha256, length=length
        )
    except Invalid as exc:
        raise Invalid(f"upload does not match its sha256: {exc.message}", field="body") from exc
    result = {"sha256": sha256, "size": stored.size, "existed": False}
    return JSONResponse(result, status_code=status.HTTP_201_CREATED)


@router.post(
    "/v1/blobs/{sha256}/uploads",
    summary="A signed link to PUT the blob straight into the object store",
    status_code=status.HTTP_201_CREATED,
)
async def upload_link(sha256: Sha, deps: DepsDep) -> JSONResponse:
    """200 `{existed: true}` if the blob is stored; else 201 with `url` and the `headers` to
    send: the store refuses bytes whose SHA-256 differs from `x-amz-checksum-sha256`, and a
    registration checks the checksum the store verified. 404 when links are off (use PUT)."""
    key = blob_key(_check_sha(sha256))
    existing = await deps.store.stat(key)
    if existing is not None and existing.sha256 == sha256:
        return JSONResponse({"sha256": sha256, "size": existing.size, "existed": True})
    if deps.links is None:
        raise NotFound("upload links are off here: PUT /v1/blobs/{sha256} instead")
    ttl = timedelta(seconds=deps.settings.store_link_ttl_s)
    body = {
        "sha256": sha256,
        "existed": False,
        "url": deps.links.upload(key, ttl),
        "headers": {"x-amz-checksum-sha256": checksum_header(sha256)},
        "expires_at": (datetime.now(UTC) + ttl).isoformat(),
    }
    return JSONResponse(body, status_code=status.HTTP_201_CREATED)


@router.post(
    "/v1/blobs/uploads",
    summary="Start an upload in parts straight into the object store (large files)",
    status_code=status.HTTP_201_CREATED,
)
async def start_upload(body: StartUpload, deps: DepsDep) -> UploadStarted:
    """One signed link per part; PUT each part with `x-amz-checksum-sha256` (the store refuses
    a part whose bytes differ), then complete. 404 when links are off (use PUT)."""
    return await blobs.start_upload(deps, body.size)


@router.post(
    "/v1/blobs/uploads/{upload}/complete",
    summary="Join the parts of an upload into a blob; its manifest entry's digests",
)
async def complete_upload(upload: str, body: CompleteUpload, deps: DepsDep) -> JSONResponse:
    """The store joins the parts only if each one matches the digest named here; the answer
    gives `sha256`, `size`, `blocks` (and `blake3`, if sent) for the file's manifest entry."""
    return JSONResponse(await blobs.complete_upload(deps, upload, body))


def _entry(doc: Document, path: str) -> FileEntry:
    for f in doc["files"]:
        if f["path"] == path:
            return FileEntry.model_validate(f)
    raise NotFound(f"version {doc['version']} has no file {path!r}")


Stream = Annotated[
    bool,
    Query(description="stream the bytes through the registry instead of a redirect to the store"),
]


async def _file_response(deps: Deps, entry: FileEntry, stream: bool) -> Response:
    key = await blobs.locate(deps, entry)
    if entry.blocks is None and await deps.store.stat(key) is None:
        raise NotFound(f"the stored blob of {entry.path!r} is missing")
    filename = entry.path.rsplit("/", 1)[-1]
    digest = {"etag": f'"{entry.sha256}"', "x-content-sha256": entry.sha256}
    if entry.blocks is not None:
        digest["x-content-blocks"] = f"{entry.blocks.part_size}:{entry.blocks.sha256}"
    if entry.blake3 is not None:
        digest["x-content-blake3"] = entry.blake3
    if deps.links is not None and not stream:
        ttl = timedelta(seconds=deps.settings.store_link_ttl_s)
        link = deps.links.download(key, filename, ttl)
        return RedirectResponse(link, status.HTTP_307_TEMPORARY_REDIRECT, headers=digest)
    headers = {
        **digest,
        "content-length": str(entry.size),
        "content-disposition": f'attachment; filename="{filename}"',
    }
    return StreamingResponse(
        deps.store.get_stream(key), media_type="application/octet-stream", headers=headers
    )


class _Sink:
    """A write-only file for zipfile: collects bytes until the generator takes them."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, b: bytes, /) -> int:
        self.data += b
        return len(b)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def take(self) -> bytes:
        out = bytes(self.data)
        self.data.clear()
        return out


async def _zip_stream(deps: Deps, files: Sequence[FileEntry]) -> AsyncIterator[bytes]:
    """A zip (stored, zip64) of the files, produced while the blobs are read."""
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for entry in files:
            with archive.open(entry.path, mode="w", force_zip64=True) as member:
                async for chunk in deps.store.get_stream(await blobs.locate(deps, entry)):
                    member.write(chunk)
                    if len(sink.data) >= CHUNK:
                        yield sink.take()
            if sink.data:
                yield sink.take()
    if sink.data:
        yield sink.take()


def _zip_response(deps: Deps, doc: Document, label: str) -> StreamingResponse:
    if doc.get("source_uri") and not doc["files"]:
        raise Invalid(f"{label} only references {doc['source_uri']}: no files to download")
    files = [FileEntry.model_validate(f) for f in doc["files"]]
    headers = {"content-disposition": f'attachment; filename="{label}.zip"'}
    return StreamingResponse(
        _zip_stream(deps, files), media_type="application/zip", headers=headers
    )


ZipFormat = Annotated[str, Query(pattern="^zip$", description="only `zip`")]


@router.get("/v1/models/{name}/versions/{version}/files", tags=["models"])
async def model_files(name: str, version: VersionRef, deps: DepsDep) -> VersionFiles:
    """Every file of a model version with its digests and a signed link to its bytes: a
    download in one call to the registry (the SDK's way)."""
    doc = await handlers.resolve(deps, name, domain.parse_selector(version))
    return await blobs.file_links(deps, name, doc)


@router.get("/v1/models/{name}/versions/{version}/files/{path:path}", tags=["models"])
async def model_file(
    name: str, version: VersionRef, path: str, deps: DepsDep, stream: Stream = False
) -> Response:
    """One file of a model version: a 307 to a signed store link, or streamed (ETag and
    x-content-sha256 carry its digest either way)."""
    doc = await handlers.resolve(deps, name, domain.parse_selector(version))
    return await _file_response(deps, _entry(doc, path), stream)


@router.get("/v1/models/{name}/versions/{version}/download", tags=["models"])
async def model_zip(
    name: str, version: VersionRef, deps: DepsDep, format: ZipFormat = "zip"
) -> Response:
    """Every file of a model version as one streamed zip."""
    doc = await handlers.resolve(deps, name, domain.parse_selector(version))
    return _zip_response(deps, doc, f"{name}-{doc['version']}")


@router.get("/v1/datasets/{name}/versions/{version}/files", tags=["datasets"])
async def dataset_files(name: str, version: VersionRef, deps: DepsDep) -> VersionFiles:
    """Every file of a dataset version with its digests and a signed link to its bytes."""
    doc = await resolve_dataset(deps, name, domain.parse_selector(version))
    return await blobs.file_links(deps, name, doc)


@router.get("/v1/datasets/{name}/versions/{version}/files/{path:path}", tags=["datasets"])
async def dataset_file(
    name: str, version: VersionRef, path: str, deps: DepsDep, stream: Stream = False
) -> Response:
    """One file of a dataset version: a 307 to a signed store link, or streamed."""
    doc = await resolve_dataset(deps, name, domain.parse_selector(version))
    return await _file_response(deps, _entry(doc, path), stream)


@router.get("/v1/datasets/{name}/versions/{version}/download", tags=["datasets"])
async def dataset_zip(
    name: str, version: VersionRef, deps: DepsDep, format: ZipFormat = "zip"
) -> Response:
    """Every file of a dataset version as one streamed zip."""
    doc = await resolve_dataset(deps, name, domain.parse_selector(version))
    return _zip_response(deps, doc, f"{name}-{doc['version']}")

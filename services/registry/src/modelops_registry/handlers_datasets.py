"""Use cases of dataset versions: register (with a profile), resolve, search."""

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import structlog

from modelops_contracts.api.registry import RegisterDatasetVersion
from modelops_contracts.events import DatasetVersionRegistered, Event
from modelops_registry import domain
from modelops_registry.app_deps import Deps
from modelops_registry.domain import Selector
from modelops_registry.handlers import check_blobs, insert_next, same_request
from modelops_registry.ports import Document, VersionQuery
from modelops_servicekit.errors import NotFound
from modelops_servicekit.objects import blob_key

log = structlog.get_logger(__name__)


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def store_profile(deps: Deps, profile: dict[str, Any]) -> str:
    """Keep the profile as a content-addressed JSON blob too; returns its s3:// URI."""
    data = json.dumps(profile, sort_keys=True, default=str).encode()
    sha = hashlib.sha256(data).hexdigest()
    key = blob_key(sha)
    if await deps.store.stat(key) is None:
        await deps.store.put_stream(key, _one(data), expected_sha256=sha)
    return f"s3://{deps.bucket}/{key}"


async def register_dataset_version(
    deps: Deps, name: str, body: RegisterDatasetVersion, actor: str, key: str | None
) -> tuple[Document, bool]:
    """Validate, check the blobs, profile the data, then number and store the version."""
    domain.check_name(name, "dataset")
    files = domain.check_manifest(body.files)
    digest = domain.content_digest(files)
    if key and (existing := await deps.datasets.by_idempotency_key(name, key)):
        return same_request(existing, digest, key), False
    domain.check_tags(body.tags)
    fmt = domain.dataset_format(files)
    await check_blobs(deps, files)
    profile = await deps.profiler.profile(files, fmt)
    base: Document = {
        "dataset_name": name,
        "format": fmt,
        "files": [f.model_dump() for f in files],
        "content_digest": digest,
        "size_bytes": sum(f.size for f in files),
        "description": body.description,
        "tags": dict(body.tags),
        "lineage": body.lineage.model_dump(mode="json"),
        "profile": profile,
        "profile_uri": await store_profile(deps, profile),
        "archived": False,
        "deleted": False,
        "revision": 0,
        "created_by": actor,
        "created_at": datetime.now(UTC),
        "bucket": deps.bucket,
    }
    if key:
        base["idempotency_key"] = key
    doc, created = await insert_next(deps, deps.datasets, name, base, _registered)
    if created:
        log.info("dataset_version_registered", dataset_name=name, version=doc["version"])
    return (doc if created else same_request(doc, digest, str(key))), created


def _registered(doc: Document) -> Event:
    name, version = doc["dataset_name"], doc["version"]
    profile = doc.get("profile", {})
    return DatasetVersionRegistered(
        dataset_name=name,
        version=version,
        artifact_uri=domain.artifact_uri(doc["bucket"], "datasets", name, version),
        content_digest=doc["content_digest"],
        format=doc["format"],
        row_count=profile.get("row_count"),
        columns=[c["name"] for c in profile.get("columns", [])],
        profile_uri=doc.get("profile_uri"),
        created_by=doc["created_by"],
    )


async def resolve_dataset(deps: Deps, name: str, selector: Selector) -> Document:
    """A dataset version by number, or the latest."""
    domain.check_name(name, "dataset")
    if selector.alias:
        raise NotFound("datasets have no aliases: use a version number or latest")
    if selector.version is None:
        doc = await deps.datasets.latest(name)
        if doc is None:
            raise NotFound(f"dataset {name!r} has no versions")
        return doc
    doc = await deps.datasets.get(name, selector.version)
    if doc is None or doc.get("deleted"):
        raise NotFound(f"dataset {name!r} has no version {selector.version}")
    return doc


async def search_datasets(deps: Deps, query: VersionQuery) -> tuple[list[Document], int]:
    if query.name:
        domain.check_name(query.name, "dataset")
    return await deps.datasets.search(query)

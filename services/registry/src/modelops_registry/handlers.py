"""Use cases of model versions: register (numbered without gaps), resolve, search."""

import asyncio
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog

from modelops_contracts.api.registry import FileEntry, RegisterModelVersion
from modelops_contracts.events import Event, ModelVersionRegistered
from modelops_contracts.types import Framework
from modelops_registry import blobs, domain
from modelops_registry.app_deps import Deps
from modelops_registry.domain import IdempotencyKeyTaken, Selector, VersionTaken
from modelops_registry.ports import Document, VersionQuery, Versions
from modelops_servicekit.errors import Conflict, Invalid, NotFound, Unavailable

log = structlog.get_logger(__name__)
MakeEvent = Callable[[Document], Event]


async def check_blobs(deps: Deps, files: Sequence[FileEntry]) -> None:
    """Every file's blob is uploaded, with the size and digest the manifest says."""
    limit = asyncio.Semaphore(blobs.LOOKUPS)

    async def problem(f: FileEntry) -> str | None:
        async with limit:
            return await blobs.problem(deps, f)

    problems = [p for p in await asyncio.gather(*(problem(f) for f in files)) if p]
    if problems:
        raise Invalid(
            f"{len(problems)} file(s) missing or different: {'; '.join(problems[:5])} "
            "(upload each with PUT /v1/blobs/{sha256}, or in parts, first)",
            field="files",
            problems=problems[:100],
        )


async def insert_next(
    deps: Deps,
    versions: Versions,
    name: str,
    base: Document,
    make_event: MakeEvent,
) -> tuple[Document, bool]:
    """Insert under the next free number, retrying when a concurrent registration took it.
    Within this process registrations of a name take turns: otherwise all but one lose each
    race and retry, an insert each (10 clients at once: 10 versions/s, against 25 taking turns).

    Returns the document and whether it was created (False: the idempotency key existed).
    """
    key = base.get("idempotency_key")
    async with deps.numbering.setdefault(name, asyncio.Lock()):
        for attempt in range(deps.settings.register_attempts):
            version = await versions.max_version(name) + 1
            doc = {**base, "version": version}
            try:
                await versions.insert(doc, [make_event(doc)])
            except VersionTaken:
                await asyncio.sleep(random.random() * 0.002 * min(attempt, 20))  # noqa: S311
                continue
            except IdempotencyKeyTaken:
                existing = await versions.by_idempotency_key(name, str(key))
                if existing is None:  # pragma: no cover - the index said it exists
                    raise Unavailable("idempotency key vanished; retry") from None
                return existing, False
            deps.kick()
            return doc, True
    raise Unavailable(f"could not number a version of {name!r}: too much contention, retry")


def same_request(existing: Document, digest: str, key: str) -> Document:
    """A retry with the same key must carry the same files."""
    if existing.get("content_digest") != digest:
        raise Conflict(f"Idempotency-Key {key!r} was used for a different registration")
    return existing


def _framework(body: RegisterModelVersion, detected: Framework | None) -> Framework:
    framework = body.framework or detected or Framework.CUSTOM
    has_onnx = any(f.path.endswith(".onnx") for f in body.files)
    if framework is Framework.ONNX and not has_onnx and body.source_uri is None:
        raise Invalid("framework onnx needs a .onnx file among the files", field="framework")
    return framework


async def register_model_version(
    deps: Deps, name: str, body: RegisterModelVersion, actor: str, key: str | None
) -> tuple[Document, bool]:
    """Validate, check the blobs, detect the framework, then number and store the version."""
    domain.check_name(name)
    files = domain.check_manifest(body.files, allow_empty=body.source_uri is not None)
    digest = domain.content_digest(files)
    if key and (existing := await deps.versions.by_idempotency_key(name, key)):
        return same_request(existing, digest, key), False
    domain.check_tags(body.tags)
    domain.check_tags(body.properties)
    domain.check_trust(files, body.trusted)
    await check_blobs(deps, files)
    detected = await deps.inspector.inspect(files)
    base = _version_doc(deps, name, body, files, actor, key) | {
        "content_digest": digest,
        "framework": _framework(body, detected.framework).value,
        "framework_version": body.framework_version or detected.framework_version,
        "inputs": _schema(body.inputs) or detected.inputs,
        "outputs": _schema(body.outputs) or detected.outputs,
        "opset": detected.opset,
    }
    doc, created = await insert_next(deps, deps.versions, name, base, _registered)
    if created:
        log.info("model_version_registered", model_name=name, version=doc["version"])
    return (doc if created else same_request(doc, digest, str(key))), created


def _schema(specs: Sequence[Any] | None) -> list[dict[str, Any]] | None:
    return [s.model_dump() for s in specs] if specs else None


def _version_doc(
    deps: Deps,
    name: str,
    body: RegisterModelVersion,
    files: Sequence[FileEntry],
    actor: str,
    key: str | None,
) -> Document:
    doc: Document = {
        "model_name": name,
        "description": body.description,
        "files": [f.model_dump() for f in files],
        "size_bytes": sum(f.size for f in files),
        "tags": dict(body.tags),
        "properties": dict(body.properties),
        "lineage": body.lineage.model_dump(mode="json"),
        "trusted": body.trusted,
        "trusted_by": actor if body.trusted else None,
        "source_uri": body.source_uri,
        "archived": False,
        "deleted": False,
        "revision": 0,
        "created_by": actor,
        "created_at": datetime.now(UTC),
        "bucket": deps.bucket,
    }
    if key:
        doc["idempotency_key"] = key
    return doc


def _registered(doc: Document) -> Event:
    name, version = doc["model_name"], doc["version"]
    return ModelVersionRegistered(
        model_name=name,
        version=version,
        artifact_uri=domain.artifact_uri(doc["bucket"], "models", name, version),
        content_digest=doc["content_digest"],
        framework=Framework(doc["framework"]),
        framework_version=doc["framework_version"],
        tags=doc["tags"],
        lineage=doc["lineage"],
        created_by=doc["created_by"],
    )


async def resolve(deps: Deps, name: str, selector: Selector) -> Document:
    """The version a selector names: a number, `latest`, or an alias."""
    domain.check_name(name)
    version = selector.version
    if selector.alias:
        alias = await deps.aliases.get(name, selector.alias)
        if alias is None:
            raise NotFound(f"model {name!r} has no alias {selector.alias!r}")
        version = int(alias["version"])
    if version is None:
        latest = await deps.versions.latest(name)
        if latest is None:
            raise NotFound(f"model {name!r} has no (unarchived) versions")
        return latest
    doc = await deps.versions.get(name, version)
    if doc is None:
        raise NotFound(f"model {name!r} has no version {version}")
    if doc.get("deleted"):
        raise NotFound(f"version {version} of model {name!r} was deleted", deleted=True)
    return doc


async def with_aliases(deps: Deps, docs: list[Document]) -> list[Document]:
    """Each version with the aliases that point at it."""
    names = {d["model_name"] for d in docs}
    pointing: dict[tuple[str, int], list[str]] = {}
    for aliases in await asyncio.gather(*(deps.aliases.of_model(n) for n in names)):
        for a in aliases:
            pointing.setdefault((a["model_name"], int(a["version"])), []).append(a["alias"])
    return [
        d | {"aliases": sorted(pointing.get((d["model_name"], d["version"]), []))} for d in docs
    ]


async def holders(deps: Deps, name: str, version: int) -> list[Document]:
    """The active deployments that hold a version (they block its deletion)."""
    held = await deps.deployments.holding(name, version)
    keys = ("endpoint_name", "deployment_name", "state")
    return [{k: d[k] for k in keys} for d in held if domain.holds_version(d["state"])]


async def search_versions(
    deps: Deps, query: VersionQuery, alias: str | None
) -> tuple[list[Document], int]:
    """Versions matching every criterion, newest first, with their aliases."""
    if query.name:
        domain.check_name(query.name)
    if alias:
        pointed = await deps.aliases.named(domain.check_name(alias, "alias"), query.name)
        query = VersionQuery(
            **{**query.__dict__, "only": [(a["model_name"], int(a["version"])) for a in pointed]}
        )
    docs, total = await deps.versions.search(query)
    return await with_aliases(deps, docs), total


async def model_summary(deps: Deps, name: str) -> Document:
    """A model: its latest version, how many versions it has, where its aliases point."""
    domain.check_name(name)
    _, total = await deps.versions.search(VersionQuery(name=name, include_archived=True, limit=1))
    if total == 0:
        raise NotFound(f"model {name!r} has no versions")
    latest = await deps.versions.latest(name)
    aliases = await deps.aliases.of_model(name)
    return {
        "name": name,
        "versions": total,
        "latest_version": latest["version"] if latest else None,
        "aliases": {a["alias"]: a["version"] for a in aliases},
    }

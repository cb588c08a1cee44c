"""Use cases that change a version or an alias: tags, properties, archive, delete, move alias."""

from datetime import UTC, datetime
from typing import Any

import structlog

from modelops_contracts.api.registry import UpdateModelVersion
from modelops_contracts.events import ModelAliasSet, ModelVersionDeleted, ModelVersionUpdated
from modelops_registry import domain, handlers
from modelops_registry.app_deps import Deps
from modelops_registry.domain import LATEST, Selector, StaleWrite
from modelops_registry.handlers import resolve
from modelops_registry.ports import Document
from modelops_servicekit.errors import Conflict, Invalid, NotFound, Unavailable

log = structlog.get_logger(__name__)


def _changes(doc: Document, body: UpdateModelVersion) -> tuple[Document, dict[str, Any]]:
    """The `$set`/`$unset` update and the event fields describing it (empty: nothing changes)."""
    domain.check_tags(body.set_tags)
    overlap = set(body.set_tags) & set(body.remove_tags)
    if overlap:
        raise Invalid(f"tags {sorted(overlap)} are both set and removed", field="tags")
    domain.check_property_additions(doc.get("properties", {}), body.add_properties)
    tags = {**doc.get("tags", {})}
    removed = [k for k in body.remove_tags if k in tags]
    tags = {k: v for k, v in tags.items() if k not in removed} | body.set_tags
    new_props = {k: v for k, v in body.add_properties.items() if k not in doc.get("properties", {})}
    fields: dict[str, Any] = {}
    update: Document = {"$set": {}}
    if tags != doc.get("tags", {}):
        fields["tags"] = tags
        update["$set"].update({f"tags.{k}": v for k, v in body.set_tags.items()})
        if removed:
            update["$unset"] = {f"tags.{k}": "" for k in removed}
    if new_props:
        fields["properties_added"] = new_props
        update["$set"].update({f"properties.{k}": v for k, v in new_props.items()})
    if body.description is not None and body.description != doc.get("description"):
        fields["description"] = update["$set"]["description"] = body.description
    if body.archived is not None and body.archived != doc.get("archived", False):
        fields["archived"] = update["$set"]["archived"] = body.archived
    return update, fields


async def update_model_version(
    deps: Deps, name: str, selector: Selector, body: UpdateModelVersion, actor: str
) -> Document:
    """Change tags, description, archived flag; add properties. Publishes model_version.updated."""
    for _ in range(deps.settings.register_attempts):
        doc = await resolve_any(deps, name, selector)
        update, fields = _changes(doc, body)
        if not fields:
            return doc
        version = int(doc["version"])
        update["$set"].update(updated_at=datetime.now(UTC), updated_by=actor)
        event = ModelVersionUpdated(model_name=name, version=version, updated_by=actor, **fields)
        try:
            await deps.versions.update(name, version, doc["revision"], update, [event])
        except StaleWrite:
            continue
        deps.kick()
        return await resolve_any(deps, name, Selector(version=version))
    raise Unavailable(f"{name}:{selector} changes too often; retry")


async def resolve_any(deps: Deps, name: str, selector: Selector) -> Document:
    """Like resolve, but `latest` may name an archived version (to un-archive it)."""
    if selector.latest:
        max_version = await deps.versions.max_version(domain.check_name(name))
        if max_version == 0:
            raise NotFound(f"model {name!r} has no versions")
        return await resolve(deps, name, Selector(version=max_version))
    return await resolve(deps, name, selector)


async def delete_model_version(deps: Deps, name: str, selector: Selector, actor: str) -> Document:
    """Tombstone a version unless an active deployment holds it; its number is never reused."""
    if selector.version is None:
        raise Invalid("deleting needs an explicit version number, not an alias or latest")
    for _ in range(deps.settings.register_attempts):
        doc = await resolve(deps, name, selector)
        version = int(doc["version"])
        if holders := await handlers.holders(deps, name, version):
            raise Conflict(
                f"{name}:{version} is used by {len(holders)} active deployment(s): "
                + ", ".join(f"{d['endpoint_name']}/{d['deployment_name']}" for d in holders),
                deployments=holders,
            )
        now = datetime.now(UTC)
        update = {"$set": {"deleted": True, "deleted_at": now, "deleted_by": actor}}
        event = ModelVersionDeleted(model_name=name, version=version, deleted_by=actor)
        try:
            await deps.versions.update(name, version, doc["revision"], update, [event])
        except StaleWrite:
            continue
        deps.kick()
        log.info("model_version_deleted", model_name=name, version=version)
        return doc | update["$set"]
    raise Unavailable(f"{name}:{selector} changes too often; retry")


async def set_alias(deps: Deps, name: str, alias: str, target: Selector, actor: str) -> Document:
    """Point an alias at a version (compare-and-set); publishes model_alias.set."""
    domain.check_name(alias, "alias")
    if alias == LATEST:
        raise Invalid("'latest' is reserved: it always means the highest version", field="alias")
    version = int((await resolve(deps, name, target))["version"])
    for _ in range(deps.settings.register_attempts):
        current = await deps.aliases.get(name, alias)
        previous = int(current["version"]) if current else None
        if current is not None and previous == version:
            return current
        event = ModelAliasSet(
            model_name=name, alias=alias, version=version, previous_version=previous, set_by=actor
        )
        entry = {
            "version": version,
            "previous_version": previous,
            "set_at": event.occurred_at,
            "set_by": actor,
            "event_id": str(event.event_id),
        }
        try:
            await deps.aliases.move(name, alias, version, previous, entry, [event])
        except StaleWrite:
            continue
        deps.kick()
        log.info("model_alias_set", model_name=name, alias=alias, version=version)
        # what was written, not a read of it: a read right after the write has been seen
        # to answer the previous version under load on FerretDB
        base = current or {"_id": f"{name}@{alias}", "model_name": name, "alias": alias}
        return {**base, "version": version, "set_at": entry["set_at"], "set_by": actor,
                "history": [*base.get("history", []), entry]}  # fmt: skip
    raise Unavailable(f"alias {name}@{alias} moves too often; retry")


async def _alias(deps: Deps, name: str, alias: str) -> Document:
    doc = await deps.aliases.get(domain.check_name(name), domain.check_name(alias, "alias"))
    if doc is None:
        raise NotFound(f"model {name!r} has no alias {alias!r}")
    return doc


async def alias_view(deps: Deps, name: str, alias: str, at: datetime | None) -> Document:
    """Where an alias points now, or pointed at a moment (from its history)."""
    doc = await _alias(deps, name, alias)
    view = {k: doc[k] for k in ("model_name", "alias", "version", "set_at", "set_by")}
    view["history"] = doc.get("history", [])
    if at is None:
        return view
    if at.tzinfo is None:
        raise Invalid("`at` needs a time zone (RFC 3339, e.g. 2025-01-31T12:00:00Z)", field="at")
    version = domain.alias_at(doc.get("history", []), at)
    if version is None:
        raise NotFound(f"alias {name}@{alias} did not exist at {at.isoformat()}")
    return view | {"version": version, "at": at}

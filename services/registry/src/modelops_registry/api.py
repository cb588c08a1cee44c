"""HTTP API of models: `/v1/models/...` (register, read, search, change, delete, aliases, audit)."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status

from modelops_contracts.api.registry import (
    ModelVersionInfo,
    ModelVersionPage,
    RegisterModelVersion,
    SetAlias,
    UpdateModelVersion,
)
from modelops_registry import domain, handlers, handlers_changes
from modelops_registry.app_deps import Deps
from modelops_registry.ports import Document, VersionQuery

router = APIRouter(prefix="/v1/models", tags=["models"])


def get_deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


DepsDep = Annotated[Deps, Depends(get_deps)]
Actor = Annotated[str, Header(alias="modelops-user", description="Who is calling")]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=200, description="Retry-safe registration"),
]
VersionRef = Annotated[str, "a number, `latest`, or `@alias`"]


def version_info(doc: Document) -> ModelVersionInfo:
    """The public view of a stored version."""
    uri = domain.artifact_uri(doc["bucket"], "models", doc["model_name"], doc["version"])
    return ModelVersionInfo.model_validate({**doc, "artifact_uri": uri})


class SearchParams:
    """Query parameters shared by the searches."""

    def __init__(
        self,
        tag: Annotated[list[str], Query(description="key=value, ANDed")] = [],  # noqa: B006
        prop: Annotated[list[str], Query(alias="property", description="key=value")] = [],  # noqa: B006
        framework: str | None = None,
        alias: str | None = None,
        archived: Annotated[bool, Query(description="include archived versions")] = False,
        page: Annotated[int, Query(ge=1)] = 1,
        limit: Annotated[int, Query(ge=1, le=200)] = 20,
    ) -> None:
        self.tags, self.properties = domain.parse_tags(tag), domain.parse_tags(prop)
        self.framework, self.alias, self.archived = framework, alias, archived
        self.page, self.limit = page, limit

    def query(self, name: str | None) -> VersionQuery:
        return VersionQuery(
            name=name,
            tags=self.tags,
            properties=self.properties,
            framework=self.framework,
            include_archived=self.archived,
            page=self.page,
            limit=self.limit,
        )


Search = Annotated[SearchParams, Depends()]


async def _page(deps: Deps, params: SearchParams, name: str | None) -> ModelVersionPage:
    docs, total = await handlers.search_versions(deps, params.query(name), params.alias)
    items = [version_info(d) for d in docs]
    return ModelVersionPage(items=items, page=params.page, limit=params.limit, total=total)


@router.get("", summary="Search versions of every model, newest first")
async def search(deps: DepsDep, params: Search, name: str | None = None) -> ModelVersionPage:
    return await _page(deps, params, name)


@router.post(
    "/{name}/versions",
    status_code=status.HTTP_201_CREATED,
    summary="Register a version from uploaded blobs (200 when the Idempotency-Key replays one)",
)
async def register(
    name: str,
    body: RegisterModelVersion,
    deps: DepsDep,
    response: Response,
    actor: Actor = "anonymous",
    key: IdempotencyKey = None,
) -> ModelVersionInfo:
    doc, created = await handlers.register_model_version(deps, name, body, actor, key)
    if not created:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/v1/models/{name}/versions/{doc['version']}"
    return version_info(doc)


@router.get("/{name}", summary="A model: latest version, number of versions, aliases")
async def model(name: str, deps: DepsDep) -> dict[str, Any]:
    return await handlers.model_summary(deps, name)


@router.get("/{name}/versions", summary="Search the versions of one model, newest first")
async def versions(name: str, deps: DepsDep, params: Search) -> ModelVersionPage:
    return await _page(deps, params, domain.check_name(name))


@router.get("/{name}/versions/{version}", summary="One version (`3`, `latest` or `@alias`)")
async def version(name: str, version: VersionRef, deps: DepsDep) -> ModelVersionInfo:
    doc = await handlers.resolve(deps, name, domain.parse_selector(version))
    (doc,) = await handlers.with_aliases(deps, [doc])
    return version_info(doc | {"deployments": await handlers.holders(deps, name, doc["version"])})


@router.patch("/{name}/versions/{version}", summary="Tags, description, properties, archive")
async def update(
    name: str,
    version: VersionRef,
    body: UpdateModelVersion,
    deps: DepsDep,
    actor: Actor = "anonymous",
) -> ModelVersionInfo:
    selector = domain.parse_selector(version)
    doc = await handlers_changes.update_model_version(deps, name, selector, body, actor)
    return version_info(doc)


@router.delete(
    "/{name}/versions/{version}",
    summary="Delete a version (409 while an active deployment uses it); numbers are never reused",
)
async def delete(
    name: str, version: VersionRef, deps: DepsDep, actor: Actor = "anonymous"
) -> dict[str, Any]:
    selector = domain.parse_selector(version)
    doc = await handlers_changes.delete_model_version(deps, name, selector, actor)
    return {"model_name": name, "version": doc["version"], "deleted": True}


@router.put("/{name}/aliases/{alias}", summary="Point an alias at a version")
async def set_alias(
    name: str, alias: str, body: SetAlias, deps: DepsDep, actor: Actor = "anonymous"
) -> dict[str, Any]:
    target = domain.parse_selector(str(body.version))
    doc = await handlers_changes.set_alias(deps, name, alias, target, actor)
    return {k: doc[k] for k in ("model_name", "alias", "version", "set_at", "set_by")}


@router.get("/{name}/aliases", summary="Every alias of a model and where it points")
async def aliases(name: str, deps: DepsDep) -> list[dict[str, Any]]:
    docs = await deps.aliases.of_model(domain.check_name(name))
    keys = ("alias", "version", "set_at", "set_by")
    return [{k: d[k] for k in keys} for d in sorted(docs, key=lambda d: d["alias"])]


@router.get("/{name}/aliases/{alias}", summary="Where an alias points (now, or `at` a time)")
async def alias(
    name: str,
    alias: str,
    deps: DepsDep,
    at: Annotated[datetime | None, Query(description="RFC 3339 time")] = None,
) -> dict[str, Any]:
    return await handlers_changes.alias_view(deps, name, alias, at)


@router.get("/{name}/audit", summary="The model's audit log: who did what, when, from which event")
async def audit(
    name: str,
    deps: DepsDep,
    page: Annotated[int, Query(ge=1)] = 1,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    docs, total = await deps.audit.of_model(domain.check_name(name), page, limit)
    items = [{k: v for k, v in d.items() if k != "_id"} for d in docs]
    return {"items": items, "page": page, "limit": limit, "total": total}

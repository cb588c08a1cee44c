"""HTTP API of datasets: `/v1/datasets/...` (register with a profile, read, search)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status

from modelops_contracts.api.registry import (
    DatasetVersionInfo,
    DatasetVersionPage,
    RegisterDatasetVersion,
)
from modelops_registry import domain, handlers_datasets
from modelops_registry.api import Actor, DepsDep, IdempotencyKey, VersionRef
from modelops_registry.app_deps import Deps
from modelops_registry.ports import Document, VersionQuery

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])


def dataset_info(doc: Document) -> DatasetVersionInfo:
    uri = domain.artifact_uri(doc["bucket"], "datasets", doc["dataset_name"], doc["version"])
    return DatasetVersionInfo.model_validate({**doc, "artifact_uri": uri})


class DatasetSearch:
    """Query parameters of a dataset search."""

    def __init__(
        self,
        tag: Annotated[list[str], Query(description="key=value, ANDed")] = [],  # noqa: B006
        page: Annotated[int, Query(ge=1)] = 1,
        limit: Annotated[int, Query(ge=1, le=200)] = 20,
    ) -> None:
        self.tags, self.page, self.limit = domain.parse_tags(tag), page, limit

    def query(self, name: str | None) -> VersionQuery:
        return VersionQuery(name=name, tags=self.tags, page=self.page, limit=self.limit)


Search = Annotated[DatasetSearch, Depends()]


async def _page(deps: Deps, params: DatasetSearch, name: str | None) -> DatasetVersionPage:
    docs, total = await handlers_datasets.search_datasets(deps, params.query(name))
    items = [dataset_info(d) for d in docs]
    return DatasetVersionPage(items=items, page=params.page, limit=params.limit, total=total)


@router.get("", summary="Search dataset versions, newest first")
async def search(deps: DepsDep, params: Search, name: str | None = None) -> DatasetVersionPage:
    return await _page(deps, params, name)


@router.post(
    "/{name}/versions",
    status_code=status.HTTP_201_CREATED,
    summary="Register a dataset version (CSV or Parquet blobs); the registry profiles it",
)
async def register(
    name: str,
    body: RegisterDatasetVersion,
    deps: DepsDep,
    response: Response,
    actor: Actor = "anonymous",
    key: IdempotencyKey = None,
) -> DatasetVersionInfo:
    doc, created = await handlers_datasets.register_dataset_version(deps, name, body, actor, key)
    if not created:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/v1/datasets/{name}/versions/{doc['version']}"
    return dataset_info(doc)


@router.get("/{name}/versions", summary="The versions of one dataset, newest first")
async def versions(name: str, deps: DepsDep, params: Search) -> DatasetVersionPage:
    return await _page(deps, params, domain.check_name(name, "dataset"))


@router.get("/{name}/versions/{version}", summary="One dataset version with its profile")
async def version(name: str, version: VersionRef, deps: DepsDep) -> DatasetVersionInfo:
    doc = await handlers_datasets.resolve_dataset(deps, name, domain.parse_selector(version))
    return dataset_info(doc)


@router.get("/{name}/audit", summary="The dataset's audit log")
async def audit(name: str, deps: DepsDep) -> dict[str, Any]:
    domain.check_name(name, "dataset")
    docs, total = await deps.audit.of_model(name, 1, 500)
    return {"items": [{k: v for k, v in d.items() if k != "_id"} for d in docs], "total": total}

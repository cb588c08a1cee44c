"""HTTP API: /v1/packages, /v1/images (builds, streamed logs), /v1/conversions, /v1/profiles."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from modelops_builder.app_deps import Deps
from modelops_builder.packaging import PackageRequest
from modelops_servicekit.errors import NotFound

router = APIRouter(tags=["builder"])


def get_deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


DepsDep = Annotated[Deps, Depends(get_deps)]
Actor = Annotated[str, Header(alias="modelops-user")]


class CreatePackage(BaseModel):
    """A package: a model version, an entry script (none for ONNX), environment and schema."""

    model_config = ConfigDict(populate_by_name=True)

    model: str = Field(description="model name")
    version: str = Field(default="latest", description="a number, `latest` or `@alias`")
    entry_script: str | None = Field(default=None, description="score.py source: init(), run(data)")
    requirements: list[str] = Field(default_factory=list, description="pip requirements")
    python_version: str = "3.11"
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    extra_files: dict[str, str] = Field(default_factory=dict, description="path -> text")
    sample_input: Any = None
    script_input: str = Field(default="numpy", pattern="^(numpy|json|raw)$")
    base_image: str | None = None
    build: bool = Field(default=False, description="start the build right away")


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in ("_outbox", "announced")}
    out["id"] = out.pop("_id")
    return out


def _log_stream(lines: Any) -> StreamingResponse:
    async def body() -> Any:
        async for line in lines:
            yield line + "\n"

    return StreamingResponse(body(), media_type="text/plain; charset=utf-8")


@router.post("/v1/packages", status_code=status.HTTP_201_CREATED, summary="Create a package")
async def create_package(
    body: CreatePackage, deps: DepsDep, user: Actor = "anonymous"
) -> dict[str, Any]:
    fields = body.model_dump(exclude={"build"}, by_alias=False)
    doc, created = await deps.packager.create_package(PackageRequest(**fields), user)
    out = _public(doc) | {"created": created}
    if body.build:
        image, started = await deps.packager.build(doc["_id"])
        out["image"] = _public(image) | {"started": started}
    return out


@router.get("/v1/packages", summary="Packages, newest first")
async def list_packages(
    deps: DepsDep, model: str | None = None, limit: Annotated[int, Query(le=500)] = 50
) -> list[dict[str, Any]]:
    return [_public(d) for d in await deps.store.list_packages(model, limit)]


@router.get("/v1/packages/{package_id}", summary="One package and its latest image")
async def get_package(package_id: str, deps: DepsDep) -> dict[str, Any]:
    doc = await deps.packager.package(package_id)
    image = await deps.store.image_for_package(package_id)
    if image is None:
        image = await deps.store.image(doc["manifest_digest"])
    return _public(doc) | {"image": _public(image) if image else None}


@router.post("/v1/packages/{package_id}/build", summary="Build (or reuse) the package's image")
async def build_package(package_id: str, deps: DepsDep, follow: bool = False) -> Any:
    image, started = await deps.packager.build(package_id)
    if follow:
        return _log_stream(_follow(deps, image["_id"]))
    return _public(image) | {"started": started}


async def _follow(deps: Deps, image_id: str) -> Any:
    live = deps.packager.live.get(image_id)
    if live is not None:
        async for line in live.follow():
            yield line
    doc = await deps.store.image(image_id)
    if doc is None:
        return
    if live is None:
        for line in (await deps.packager.stored_log(doc)).splitlines():
            yield line
    yield f"status: {doc['status']}" + (f" ({doc.get('reason')})" if doc.get("reason") else "")
    if doc["status"] == "built":
        yield f"image: {doc['tag']}"


@router.get("/v1/images", summary="Images (one per manifest digest), newest first")
async def list_images(
    deps: DepsDep, limit: Annotated[int, Query(le=500)] = 50
) -> list[dict[str, Any]]:
    return [_public(d) for d in await deps.store.list_images(limit)]


@router.get("/v1/images/{image_id}", summary="One image build: status, tag, times, log tail")
async def get_image(image_id: str, deps: DepsDep) -> dict[str, Any]:
    doc = await deps.store.image(image_id)
    if doc is None:
        raise NotFound(f"no image {image_id!r}")
    return _public(doc)


@router.get("/v1/images/{image_id}/logs", summary="The build log (follow=true streams it live)")
async def image_logs(image_id: str, deps: DepsDep, follow: bool = True) -> StreamingResponse:
    if await deps.store.image(image_id) is None:
        raise NotFound(f"no image {image_id!r}")
    return _log_stream(_follow(deps, image_id))


class AutoBuild(BaseModel):
    """Build every new version of a model on `model_version.registered`."""

    enabled: bool = True
    entry_script: str | None = None
    requirements: list[str] = Field(default_factory=list)


@router.put("/v1/packages/auto-build/{model}", summary="Turn auto-build on or off for a model")
async def set_auto_build(model: str, body: AutoBuild, deps: DepsDep) -> dict[str, Any]:
    options = body.model_dump(exclude={"enabled"})
    await deps.store.set_auto_build(model, body.enabled, options)
    return {"model": model, **body.model_dump()}

"""HTTP API: /v1/conversions (to ONNX, verified) and /v1/profiles (load-tested images)."""

from typing import Annotated, Any

from fastapi import APIRouter, Header, status
from pydantic import BaseModel, Field

from modelops_builder.api import DepsDep, _public
from modelops_builder.profiling import ProfileRequest
from modelops_servicekit.errors import NotFound

router = APIRouter(tags=["builder"])
Actor = Annotated[str, Header(alias="modelops-user")]


class ConvertModel(BaseModel):
    """Convert a sklearn/XGBoost/LightGBM version to ONNX; the result is a new version."""

    model: str
    version: str = "latest"
    sample_input: list[list[float]] | None = Field(
        default=None, description="rows to check on; synthesized when absent"
    )
    tolerance: float = Field(default=1e-4, gt=0, description="max |onnx - original| on scores")


@router.post("/v1/conversions", status_code=status.HTTP_201_CREATED, summary="Convert to ONNX")
async def convert(body: ConvertModel, deps: DepsDep, user: Actor = "anonymous") -> dict[str, Any]:
    doc = await deps.converter.convert(
        body.model, body.version, body.sample_input, body.tolerance, user
    )
    return _public(doc)


@router.get("/v1/conversions/{conversion_id}", summary="A conversion and its check")
async def get_conversion(conversion_id: str, deps: DepsDep) -> dict[str, Any]:
    doc = await deps.store.conversion(conversion_id)
    if doc is None:
        raise NotFound(f"no conversion {conversion_id!r}")
    return _public(doc)


class ProfileImage(BaseModel):
    """Profile a package's built image."""

    package_id: str
    cpus: float = Field(default=1.0, gt=0, le=64)
    memory_mb: int = Field(default=1024, ge=64)
    levels: list[int] = Field(default_factory=lambda: [1, 4, 16], min_length=1, max_length=8)
    seconds_per_level: float = Field(default=5.0, gt=0, le=120)
    latency_target_ms: float = Field(default=50.0, gt=0)
    sample_input: Any = None


@router.post("/v1/profiles", status_code=status.HTTP_201_CREATED, summary="Profile an image")
async def profile(body: ProfileImage, deps: DepsDep) -> dict[str, Any]:
    fields = body.model_dump()
    fields["levels"] = tuple(fields["levels"])
    return _public(await deps.profiler.profile(ProfileRequest(**fields)))


@router.get("/v1/profiles", summary="Profiles, newest first")
async def list_profiles(deps: DepsDep, package_id: str | None = None) -> list[dict[str, Any]]:
    return [_public(d) for d in await deps.store.list_profiles(package_id)]


@router.get("/v1/profiles/{profile_id}", summary="One profile")
async def get_profile(profile_id: str, deps: DepsDep) -> dict[str, Any]:
    doc = await deps.store.profile(profile_id)
    if doc is None:
        raise NotFound(f"no profile {profile_id!r}")
    return _public(doc)

"""HTTP API: /v1/environments (an environment image, built or reused, its log streamed)."""

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from modelops_builder.api import DepsDep, _log_stream
from modelops_contracts.api.environments import BuildEnvironment

router = APIRouter(tags=["builder"])


@router.post("/v1/environments", summary="Build (or reuse) an environment image")
async def build_environment(body: BuildEnvironment, deps: DepsDep) -> StreamingResponse:
    """The build log as text lines; the last line is JSON: `{"image", "env_digest"}`, or
    `{"error"}` if the build failed. Bad requirements are refused before anything starts."""
    environments = deps.packager.environments
    env, base = environments.describe(body.python_version, body.requirements, body.base_image)
    return _log_stream(environments.start(env, base).follow())

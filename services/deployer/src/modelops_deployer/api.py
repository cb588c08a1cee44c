"""HTTP API: /v1/endpoints, /v1/deployments, rollouts, the routing snapshot and key hashes."""

from typing import Any, Literal

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel, Field

from modelops_contracts.types import ModelName
from modelops_deployer import domain, handlers, kubernetes, rollout, shadowing
from modelops_deployer.app_state import Deps
from modelops_deployer.facts import state_event

router = APIRouter(prefix="/v1")
User = Header("anonymous", alias="modelops-user")


class RolloutPolicy(BaseModel):
    """Traffic steps (rising, ending at 100), each baked, guarded by error rate and p99."""

    steps: list[int] = Field(default_factory=lambda: list(domain.STEPS))
    bake_s: float = Field(default=domain.BAKE_S, ge=0)
    guards: dict[str, float] = Field(default_factory=lambda: dict(domain.GUARDS))


class CreateEndpoint(BaseModel):
    """A new endpoint: a stable URL on the gateway."""

    name: ModelName
    auth_mode: Literal["key", "none"] = "key"
    description: str = ""
    follow: str | None = None
    """`model@alias`: when the alias moves, a deployment of the new version is rolled out."""
    follow_rollout: RolloutPolicy | None = None
    """How a follow rolls out (default: steps 10/50/100, 60 s bake, the default guards)."""


class SetTraffic(BaseModel):
    traffic: dict[str, int] | None = None
    mirror: dict[str, int] | None = None


class CreateDeployment(BaseModel):
    """A deployment of one model version behind an endpoint."""

    name: ModelName
    endpoint: ModelName
    model: str | None = None
    """`name@alias`, `name:3` or `name` (latest), resolved by the registry now."""
    model_name: ModelName | None = None
    version: int | None = Field(default=None, ge=1)
    image: str | None = None
    model_dir: str | None = None
    """Process target: the local folder the model server loads (modelserver.json)."""
    target: Literal["process", "docker", "kubernetes"] = "process"
    cpu: float = Field(default=0.5, gt=0)
    memory_mb: int = Field(default=512, gt=0)
    replicas_min: int = Field(default=1, ge=1)
    replicas_max: int = Field(default=0, ge=0)
    max_concurrency: int = Field(default=4, ge=1)
    max_queue_wait_s: float = Field(default=0.5, ge=0)
    request_timeout_s: float = Field(default=60.0, gt=0)
    data_collection: bool = False
    sample_rate: float = Field(default=1.0, ge=0, le=1)


class UpdateDeployment(BaseModel):
    """Fields to change; a new model, image or resources roll out in place."""

    model: str | None = None
    version: int | None = Field(default=None, ge=1)
    image: str | None = None
    model_dir: str | None = None
    cpu: float | None = Field(default=None, gt=0)
    memory_mb: int | None = Field(default=None, gt=0)
    replicas_min: int | None = Field(default=None, ge=1)
    replicas_max: int | None = Field(default=None, ge=0)
    max_concurrency: int | None = Field(default=None, ge=1)
    max_queue_wait_s: float | None = Field(default=None, ge=0)
    request_timeout_s: float | None = Field(default=None, gt=0)
    data_collection: bool | None = None
    sample_rate: float | None = Field(default=None, ge=0, le=1)


class StartShadow(BaseModel):
    """Mirror a share of the endpoint's traffic to another version of its model."""

    version: int = Field(ge=1)
    model_name: ModelName | None = Field(default=None, description="default: the live model's")
    percent: int = Field(default=50, ge=1, le=50, description="share of requests mirrored")


class StartRollout(RolloutPolicy):
    """Move traffic to `to` in steps, each baked, guarded by error rate and p99 latency."""

    to: ModelName
    from_: ModelName | None = Field(default=None, alias="from")


def deps(request: Request) -> Deps:
    d: Deps = request.app.state.deps
    return d


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in ("_id", "name", "rev")}
    return {"name": doc["_id"], **out}


@router.post("/endpoints", status_code=201, summary="Create an endpoint (keys shown this once)")
async def create_endpoint(
    request: Request, body: CreateEndpoint, user: str = User
) -> dict[str, Any]:
    d = deps(request)
    doc, keys = await handlers.create_endpoint(d.repos, body.model_dump(), user)
    d.kick()
    return {**handlers.public_endpoint(doc, d.settings.gateway_url), "keys": keys}


@router.get("/endpoints", summary="Every endpoint")
async def list_endpoints(request: Request) -> list[dict[str, Any]]:
    d = deps(request)
    docs = await d.repos.endpoints.find({"deleted": False})
    return [handlers.public_endpoint(doc, d.settings.gateway_url) for doc in docs]


@router.get("/endpoints/{name}", summary="One endpoint with its deployments")
async def show_endpoint(request: Request, name: str) -> dict[str, Any]:
    d = deps(request)
    doc = await handlers.live_endpoint(d.repos, name)
    deps_ = await d.repos.deployments.find({"endpoint": name, "deleted": False})
    return {**handlers.public_endpoint(doc, d.settings.gateway_url),
            "deployments": [_public(x) for x in deps_]}  # fmt: skip


@router.post("/endpoints/{name}/keys/{slot}/regenerate", summary="New primary or secondary key")
async def regenerate_key(request: Request, name: str, slot: str) -> dict[str, Any]:
    d = deps(request)
    doc, key = await handlers.regenerate_key(d.repos, name, slot)
    d.kick()
    return {"name": name, "slot": slot, "key": key, "keys_revision": doc["keys_revision"]}


@router.put("/endpoints/{name}/traffic", summary="Set the traffic and/or mirror split")
async def set_traffic(request: Request, name: str, body: SetTraffic) -> dict[str, Any]:
    d = deps(request)
    doc = await handlers.set_traffic(d.repos, name, body.traffic, body.mirror)
    d.kick()
    return handlers.public_endpoint(doc, d.settings.gateway_url)


@router.delete(
    "/endpoints/{name}", status_code=204, summary="Delete an endpoint and its deployments"
)
async def delete_endpoint(request: Request, name: str) -> Response:
    await handlers.delete_endpoint(deps(request).repos, name)
    deps(request).kick()
    return Response(status_code=204)


@router.post("/endpoints/{name}/shadows", summary="Shadow a version (mirrored once Healthy)")
async def start_shadow(
    request: Request, name: str, body: StartShadow, user: str = User
) -> dict[str, Any]:
    d = deps(request)
    doc = await shadowing.start_shadow(
        d.repos, d.folders, d.gateway, name, body.version, body.percent, body.model_name, user
    )
    d.kick()
    return doc


@router.get("/endpoints/{name}/shadows/{version}", summary="A shadow: state and agreement")
async def show_shadow(request: Request, name: str, version: int) -> dict[str, Any]:
    d = deps(request)
    return await shadowing.shadow_status(d.repos, d.gateway, name, version)


@router.delete("/endpoints/{name}/shadows/{version}", status_code=204, summary="Stop a shadow")
async def stop_shadow(request: Request, name: str, version: int) -> Response:
    d = deps(request)
    if await shadowing.stop_shadow(d.repos, name, version):
        d.kick()
    return Response(status_code=204)


@router.post("/endpoints/{name}/rollouts", status_code=201, summary="Start a progressive rollout")
async def start_rollout(request: Request, name: str, body: StartRollout) -> dict[str, Any]:
    d = deps(request)
    raw = {**body.model_dump(), "from": body.from_}
    doc = await rollout.start_rollout(d.repos, d.gateway, name, raw)
    d.kick()
    return _public(doc)


@router.get("/endpoints/{name}/rollouts", summary="Rollouts of an endpoint")
async def list_rollouts(request: Request, name: str) -> list[dict[str, Any]]:
    return [_public(r) for r in await deps(request).repos.rollouts.find({"endpoint": name})]


@router.post("/deployments", status_code=201, summary="Create a deployment")
async def create_deployment(
    request: Request, body: CreateDeployment, user: str = User
) -> dict[str, Any]:
    d = deps(request)
    doc = await handlers.create_deployment(d.repos, d.registry, body.model_dump(), user)
    d.kick()
    return _public(doc)


@router.get("/deployments", summary="Every deployment")
async def list_deployments(request: Request, endpoint: str | None = None) -> list[dict[str, Any]]:
    query: dict[str, Any] = {"deleted": False, **({"endpoint": endpoint} if endpoint else {})}
    return [_public(x) for x in await deps(request).repos.deployments.find(query)]


@router.get("/deployments/{name}", summary="One deployment: state, reason, replicas")
async def show_deployment(request: Request, name: str) -> dict[str, Any]:
    return _public(await handlers.live_deployment(deps(request).repos, name))


@router.patch("/deployments/{name}", summary="Update in place (same URL and keys)")
async def update_deployment(request: Request, name: str, body: UpdateDeployment) -> dict[str, Any]:
    d = deps(request)
    changes = body.model_dump(exclude_none=True)
    doc = await handlers.update_deployment(d.repos, d.registry, name, changes)
    d.kick()
    return _public(doc)


@router.get("/deployments/{name}/logs", summary="The tail of the replicas' logs")
async def deployment_logs(request: Request, name: str, lines: int = 100) -> dict[str, Any]:
    d = deps(request)
    doc = await handlers.live_deployment(d.repos, name)
    target = d.targets.get(doc["target"])
    tails = {r["id"]: await target.log_tail(r, lines) for r in doc["replicas"]} if target else {}
    return {"name": name, "replicas": tails, "last_failure": doc.get("log_tail", "")}


@router.get("/deployments/{name}/manifests", summary="Kubernetes manifests for this deployment")
async def manifests(request: Request, name: str) -> list[dict[str, Any]]:
    d = deps(request)
    doc = await handlers.live_deployment(d.repos, name)
    return kubernetes.manifests(doc, d.settings.kubernetes_namespace)


@router.delete("/deployments/{name}", status_code=204, summary="Delete a deployment (no traffic)")
async def delete_deployment(request: Request, name: str) -> Response:
    await handlers.delete_deployment(deps(request).repos, name)
    deps(request).kick()
    return Response(status_code=204)


@router.get("/routing", summary="What the gateway routes by: endpoint and deployment facts")
async def routing(request: Request) -> dict[str, Any]:
    repos = deps(request).repos
    endpoints = [
        handlers.endpoint_event(e, generation=e["generation"]).model_dump(mode="json")
        for e in await repos.endpoints.find({"deleted": False})
    ]
    deployments = [
        state_event({**x, "generation": x["generation"] - 1}, x["state"], x["upstreams"], "")
        .model_dump(mode="json")
        for x in await repos.deployments.find({"deleted": False, "state": {"$ne": None}})
    ]  # fmt: skip
    return {"endpoints": endpoints, "deployments": deployments}


@router.get("/internal/endpoints/{name}/key-hashes", summary="Key hashes (for the gateway only)")
async def key_hashes(request: Request, name: str) -> dict[str, Any]:
    doc = await handlers.live_endpoint(deps(request).repos, name)
    hashes = [doc["key_hashes"][s] for s in ("primary", "secondary") if s in doc["key_hashes"]]
    return {"keys_revision": doc["keys_revision"], "hashes": hashes}

"""The gateway's own HTTP API: routes it knows, live load, and the per-variant comparison."""

from typing import Any

from fastapi import APIRouter, Query, Request

from modelops_scoring_gateway.app_state import GatewayState
from modelops_servicekit.errors import NotFound

router = APIRouter(prefix="/v1", tags=["gateway"])


def _state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


@router.get("/routes", summary="The routing table: endpoints (no keys) and deployments")
async def routes(request: Request) -> dict[str, Any]:
    s = _state(request)
    endpoints = {
        n: {"traffic": e.traffic, "mirror": e.mirror, "auth_mode": e.auth_mode,
            "generation": e.generation, "keys_revision": e.keys_revision}
        for n, e in s.table.endpoints.items()
    }  # fmt: skip
    targets = {
        n: {"endpoint": t.endpoint, "state": t.state, "upstreams": t.upstreams,
            "capacity": t.capacity, "generation": t.generation, "version": t.version}
        for n, t in s.table.targets.items()
    }  # fmt: skip
    return {"endpoints": endpoints, "deployments": targets}


@router.get("/stats", summary="Cumulative per-deployment counts, histograms and live load")
async def stats(request: Request) -> dict[str, Any]:
    s = _state(request)
    return {
        "deployments": {n: d.as_json() for n, d in s.stats.deployments.items()},
        "load": s.admission.snapshot(),
        "mirrors": {n: m.as_json() for n, m in s.stats.mirrors.items()},
        "predictions": {
            "published": s.stats.predictions_published,
            "dropped": s.stats.predictions_dropped,
            "pending": s.predictions.pending,
        },
    }


@router.get("/endpoints/{name}/comparison", summary="A/B: counts, error rates, latency, z-test")
async def comparison(
    request: Request, name: str, a: str | None = Query(None), b: str | None = Query(None)
) -> dict[str, Any]:
    s = _state(request)
    if name not in s.table.endpoints:
        raise NotFound(f"endpoint {name!r} is not routed here")
    return s.stats.comparison(name, a, b)

"""HTTP API of promotion: `/v1/policies` (per model) and `/v1/promotions` (decisions)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from modelops_jobs import promoting
from modelops_jobs.api import Actor, DepsDep, view
from modelops_jobs.api_policies import PolicyBody, PromotionRequest, Review
from modelops_jobs.ports import Document
from modelops_servicekit.errors import NotFound

router = APIRouter(tags=["promotion"])


@router.put("/v1/policies/{model_name}", summary="Set the promotion policy of a model")
async def put_policy(
    model_name: str, body: PolicyBody, deps: DepsDep, actor: Actor = "anonymous"
) -> Document:
    data = body.model_dump(mode="json")
    return view(await promoting.put_policy(deps, model_name, data, actor))


@router.get("/v1/policies", summary="Every promotion policy")
async def list_policies(deps: DepsDep) -> Document:
    return {"items": [view(p) for p in await deps.policies.all()]}


@router.get("/v1/policies/{model_name}", summary="A model's promotion policy")
async def get_policy(model_name: str, deps: DepsDep) -> Document:
    return view(await promoting.get_policy(deps, model_name))


@router.delete("/v1/policies/{model_name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_policy(model_name: str, deps: DepsDep) -> Response:
    if not await deps.policies.delete(model_name):
        raise NotFound(f"no promotion policy for {model_name!r}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/v1/promotions",
    summary="Judge a version against the champion now (dry_run: compare only)",
)
async def request_promotion(
    body: PromotionRequest, deps: DepsDep, actor: Actor = "anonymous"
) -> Document:
    return view(await promoting.evaluate(deps, body.model_name, body.version, actor, body.dry_run))


@router.get("/v1/promotions", summary="Promotion decisions, newest first")
async def list_promotions(
    deps: DepsDep,
    model: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Document:
    return {"items": [view(p) for p in await deps.promotions.recent(model, limit)]}


@router.get("/v1/promotions/{promotion_id}", summary="One decision: comparison and verdicts")
async def get_promotion(promotion_id: str, deps: DepsDep) -> Document:
    doc = await deps.promotions.get(promotion_id)
    if doc is None:
        raise NotFound(f"no promotion {promotion_id!r}")
    return view(doc)


@router.post(
    "/v1/promotions/{promotion_id}/{verdict}",
    summary="Approve (the alias moves) or reject a promotion awaiting approval",
)
async def review(
    promotion_id: str,
    verdict: Literal["approve", "reject"],
    deps: DepsDep,
    body: Review | None = None,
    actor: Actor = "anonymous",
) -> Document:
    reason = body.reason if body else ""
    approve = verdict == "approve"
    return view(await promoting.review(deps, promotion_id, actor, approve, reason))

"""Use cases of promotion: judge a new version against the champion by the model's policy, and
promote it (move the alias; deployments following it roll out) or record why not.

A decision is one document per version, claimed by its insert; every state change is one
conditional write carrying its event, so a redelivered event or a crash resumes where it stopped.
"""

from typing import Any

import structlog

from modelops_contracts.events import ModelPromoted
from modelops_jobs import evaluating
from modelops_jobs.app_deps import Deps
from modelops_jobs.domain import now
from modelops_jobs.handlers import found
from modelops_jobs.ports import Document
from modelops_jobs.promotion import (
    Criterion,
    PromotionState,
    decision,
    judge,
    promotion_id,
)
from modelops_servicekit.errors import Conflict, Invalid, NotFound

log = structlog.get_logger(__name__)
S = PromotionState


async def put_policy(deps: Deps, model_name: str, body: Document, actor: str) -> Document:
    doc = {**body, "_id": model_name, "model_name": model_name}
    doc |= {"updated_by": actor, "updated_at": now()}
    await deps.policies.put(doc)
    return doc


async def get_policy(deps: Deps, model_name: str) -> Document:
    return found(await deps.policies.get(model_name), f"promotion policy for {model_name!r}")


async def judged(deps: Deps, policy: Document, version: int) -> Document:
    """Evaluate the version against the alias's version; the comparison and the verdicts."""
    name, alias = policy["model_name"], policy["alias"]
    champion = await deps.models.alias(name, alias)
    if champion == version:
        raise Conflict(f"{name}:{version} is already {name}@{alias}")
    comparison = await evaluating.compare(deps, policy, version, champion)
    metrics = comparison["challenger"]["metrics"]
    best = comparison["champion"]["metrics"] if comparison["champion"] else None
    verdicts = judge([Criterion.of(c) for c in policy["criteria"]], metrics, best)
    rows = int(comparison["data"]["rows"])
    ok, reason = decision(verdicts, rows, policy["min_rows"])
    return {
        "champion_version": champion,
        "comparison": comparison,
        "verdicts": [v.as_doc() for v in verdicts],
        "passed": ok,
        "reason": reason,
    }


async def evaluate(
    deps: Deps, model_name: str, version: int, actor: str, dry_run: bool
) -> Document:
    """A promotion request: a dry run only compares; otherwise the decision is taken and kept."""
    policy = await get_policy(deps, model_name)
    if dry_run:
        return {"model_name": model_name, "version": version, "dry_run": True,
                **await judged(deps, policy, version)}  # fmt: skip
    return await decide(deps, policy, version, actor)


async def decide(deps: Deps, policy: Document, version: int, actor: str) -> Document:
    """Claim the version's decision, evaluate, and promote or reject; resumes a stopped one."""
    pid = promotion_id(policy["model_name"], version)
    doc: Document = {
        "promotion_id": pid,
        "model_name": policy["model_name"],
        "version": version,
        "alias": policy["alias"],
        "state": S.EVALUATING.value,
        "requested_by": actor,
        "created_at": now(),
        "policy": {k: v for k, v in policy.items() if k not in ("_id", "updated_at")},
    }
    if not await deps.promotions.insert(doc):
        return await resume(deps, found(await deps.promotions.get(pid), f"promotion {pid}"))
    return await _evaluate(deps, doc)


async def resume(deps: Deps, doc: Document) -> Document:
    """Carry on a decision a crash interrupted; an ended or waiting one is left as it is."""
    if doc["state"] == S.EVALUATING:
        return await _evaluate(deps, doc)
    if doc["state"] == S.PROMOTING:
        return await _promote(deps, doc)
    return doc


async def _evaluate(deps: Deps, doc: Document) -> Document:
    pid = doc["promotion_id"]
    try:
        verdict = await judged(deps, doc["policy"], doc["version"])
    except (Invalid, NotFound, Conflict) as exc:  # cannot be judged: recorded, not retried
        await _move(deps, pid, S.EVALUATING, S.FAILED, {"reason": exc.message})
        log.warning("promotion_failed", promotion_id=pid, reason=exc.message)
        return await _get(deps, pid)
    fields = {**verdict, "decided_at": now()}
    if not verdict["passed"]:
        await _move(deps, pid, S.EVALUATING, S.REJECTED, fields)
        log.info("promotion_rejected", promotion_id=pid, reason=verdict["reason"])
        return await _get(deps, pid)
    target = S.AWAITING_APPROVAL if doc["policy"]["require_approval"] else S.PROMOTING
    await _move(deps, pid, S.EVALUATING, target, fields)
    updated = await _get(deps, pid)
    return await _promote(deps, updated) if target is S.PROMOTING else updated


async def _promote(deps: Deps, doc: Document, actor: str | None = None) -> Document:
    """Move the alias (if the champion is still the one judged against) and announce it."""
    pid, name, alias = doc["promotion_id"], doc["model_name"], doc["alias"]
    current = await deps.models.alias(name, alias)
    if current not in (doc["champion_version"], doc["version"]):
        reason = f"{name}@{alias} moved to {current} since the evaluation; evaluate again"
        await _move(deps, pid, S.PROMOTING, S.FAILED, {"reason": reason})
        return await _get(deps, pid)
    await deps.models.set_alias(name, alias, doc["version"], actor or f"policy:{name}")
    event = ModelPromoted(
        model_name=name,
        alias=alias,
        version=doc["version"],
        previous_version=doc["champion_version"],
        decision_id=pid,
    )
    await _move(deps, pid, S.PROMOTING, S.PROMOTED, {"promoted_at": now()}, [event])
    log.info("model_promoted", promotion_id=pid, alias=alias, previous=doc["champion_version"])
    return await _get(deps, pid)


async def review(deps: Deps, pid: str, actor: str, approve: bool, reason: str) -> Document:
    """A human's verdict on a decision awaiting approval."""
    doc = await _get(deps, pid)
    if doc["state"] != S.AWAITING_APPROVAL:
        raise Conflict(f"promotion {pid} is {doc['state']}, not awaiting approval")
    fields: dict[str, Any] = {"reviewed_by": actor, "reviewed_at": now(), "review": reason}
    if not approve:
        fields["reason"] = f"rejected by {actor}" + (f": {reason}" if reason else "")
        await _move(deps, pid, S.AWAITING_APPROVAL, S.REJECTED, fields)
        return await _get(deps, pid)
    if not await deps.promotions.transition(pid, [S.AWAITING_APPROVAL], S.PROMOTING, fields):
        raise Conflict(f"promotion {pid} was reviewed meanwhile")
    return await _promote(deps, await _get(deps, pid), actor)


async def _get(deps: Deps, pid: str) -> Document:
    return found(await deps.promotions.get(pid), f"promotion {pid!r}")


async def _move(
    deps: Deps,
    pid: str,
    source: PromotionState,
    target: PromotionState,
    fields: Document,
    events: list[ModelPromoted] | None = None,
) -> None:
    await deps.promotions.transition(pid, [source], target, fields, events or [])


async def on_version_registered(deps: Deps, model_name: str, version: int, event_id: str) -> None:
    """A new version of a model with an automatic policy is judged (once per version)."""
    policy = await deps.policies.get(model_name)
    if policy is None or not policy.get("auto", True):
        return
    await decide(deps, policy, version, f"model_version.registered {event_id}")

"""Use cases of promotion: judge a new version against the champion by the model's policy, and
promote it (move the alias; deployments following it roll out) or record why not.

With a shadow period, a version that passes offline is deployed as a shadow of an endpoint first
(the deployer mirrors a share of the live traffic to it once it is Healthy); a periodic check
reads the gateway's agreement counts through the deployer and decides when the period is over.

A decision is one document per version, claimed by its insert; every state change is one
conditional write carrying its event, so a redelivered event or a crash resumes where it stopped.
"""

import asyncio
import time
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
    ShadowCounts,
    decision,
    judge,
    judge_shadow,
    promotion_id,
    shadow_due,
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
    if doc["policy"].get("shadow"):
        fields["shadow"] = {"requested_at": time.time(), "mirroring_since": None, "start": None}
        await _move(deps, pid, S.EVALUATING, S.SHADOWING, fields)
        log.info("promotion_shadowing", promotion_id=pid,
                 endpoint=doc["policy"]["shadow"]["endpoint"])  # fmt: skip
        return await _get(deps, pid)
    return await _passed(deps, pid, S.EVALUATING, doc["policy"], fields)


async def _passed(
    deps: Deps, pid: str, source: PromotionState, policy: Document, fields: Document
) -> Document:
    """Every check passed: promote now, or wait for a human's approval."""
    target = S.AWAITING_APPROVAL if policy["require_approval"] else S.PROMOTING
    moved = await deps.promotions.transition(pid, [source], target, fields)
    updated = await _get(deps, pid)
    return await _promote(deps, updated) if moved and target is S.PROMOTING else updated


async def check_shadows(deps: Deps) -> None:
    """One pass over the decisions in their shadow period, and over promotions that a failure
    left half done (the alias move is repeatable); one decision's failure skips only it."""
    for state, step in ((S.SHADOWING, _check_shadow), (S.PROMOTING, _promote)):
        for doc in await deps.promotions.in_state(state):
            try:
                await step(deps, doc)
            except Exception as exc:  # a peer down, a refused call: this one waits a pass
                log.warning("promotion_check_deferred", promotion_id=doc["promotion_id"],
                            state=state.value,
                            reason=getattr(exc, "message", repr(exc)))  # fmt: skip


async def _check_shadow(deps: Deps, doc: Document) -> None:
    """Start the shadow (again: idempotent), note when its mirroring starts, and end the period
    when it has lasted long enough on enough requests, or when it timed out. A shadow that
    cannot start yet (the mirror share taken by another shadow) waits, up to the timeout."""
    pid, shadow, period = doc["promotion_id"], doc["shadow"], doc["policy"]["shadow"]
    endpoint, version = period["endpoint"], doc["version"]
    now_s = time.time()
    try:
        status = await deps.shadows.start(endpoint, doc["model_name"], version, period["percent"])
    except Conflict as exc:
        status = {"state": f"waiting: {exc.message}", "mirroring": False, "stats": None}
    except (Invalid, NotFound) as exc:
        await _end_shadow(deps, doc, shadow, None, f"the shadow period cannot run: {exc.message}")
        return
    stats, started = status.get("stats"), shadow["mirroring_since"] is not None
    went_back = started and ShadowCounts.since(stats, shadow["start"]).went_back  # a restart
    if (status.get("mirroring") and not started) or went_back:  # count from here
        shadow = {**shadow, "mirroring_since": now_s, "start": stats}
        await deps.promotions.transition(pid, [S.SHADOWING], S.SHADOWING, {"shadow": shadow})
    counts = ShadowCounts.since(stats, shadow["start"]) if shadow["mirroring_since"] else None
    mirrored_s = now_s - shadow["mirroring_since"] if shadow["mirroring_since"] else None
    due = shadow_due(period, counts or ShadowCounts(0, 0, 0), mirrored_s,
                     now_s - shadow["requested_at"])  # fmt: skip
    if due == "judge" and counts is not None:
        await _end_shadow(deps, doc, shadow, counts, None)
    elif due == "expired":
        seen = f"{counts.mirrored} mirrored requests" if counts else f"state {status['state']}"
        reason = (f"the shadow period timed out after {period['timeout_s']:g} s "
                  f"({seen}; the policy needs {period['min_requests']} over "
                  f"{period['duration_s']:g} s)")  # fmt: skip
        await _end_shadow(deps, doc, shadow, counts, reason)


async def _end_shadow(
    deps: Deps, doc: Document, shadow: Document, counts: ShadowCounts | None,
    failure: str | None,
) -> None:  # fmt: skip
    """Delete the shadow, then record the period's verdicts and go on (or reject)."""
    pid, period = doc["promotion_id"], doc["policy"]["shadow"]
    await deps.shadows.stop(period["endpoint"], doc["version"])
    shadow = {**shadow, "ended_at": time.time(), "counts": counts.as_doc() if counts else None}
    if failure is not None:
        fields = {"shadow": shadow, "reason": failure}
        await _move(deps, pid, S.SHADOWING, S.REJECTED, fields)
        log.info("promotion_rejected", promotion_id=pid, reason=failure)
        return
    assert counts is not None
    verdicts = judge_shadow(period, counts)
    fields = {"shadow": shadow, "verdicts": doc["verdicts"] + [v.as_doc() for v in verdicts]}
    failed = [v.reason for v in verdicts if not v.passed]
    if failed:
        await _move(deps, pid, S.SHADOWING, S.REJECTED, {**fields, "reason": "; ".join(failed)})
        log.info("promotion_rejected", promotion_id=pid, reason=failed)
        return
    await _passed(deps, pid, S.SHADOWING, doc["policy"], {**fields, "decided_at": now()})


async def shadow_loop(deps: Deps) -> None:
    """The shadow periods' check, every `shadow_check_s`."""
    while True:
        try:
            await check_shadows(deps)
        except Exception:  # a bad pass must not end the loop
            log.exception("shadow_check_failed")
        await asyncio.sleep(deps.settings.shadow_check_s)


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

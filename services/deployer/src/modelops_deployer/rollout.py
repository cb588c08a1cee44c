"""Progressive rollout: traffic steps with a bake time, guarded by the gateway's metrics.

Each tick reads the gateway's cumulative stats for the new deployment and compares the
window since the rollout began with the guards; a breach (or a drift/performance event on
the new version) sends all traffic back, otherwise a baked step advances to the next.
"""

import contextlib
import time
import uuid
from typing import Any

import structlog

from modelops_contracts.events import RolloutRolledBack, RolloutStepTaken
from modelops_deployer import domain, handlers
from modelops_deployer.ports import GatewayStats
from modelops_deployer.repository import Repositories
from modelops_servicekit.errors import Conflict, Invalid

log = structlog.get_logger(__name__)
Doc = dict[str, Any]


def split(source: str | None, target: str, percent: int) -> dict[str, int]:
    traffic = {target: percent}
    if source is not None and source != target:
        traffic[source] = 100 - percent
    return traffic


async def start_rollout(
    repos: Repositories, gateway: GatewayStats, endpoint: str, body: Doc
) -> Doc:
    """Begin at the first step; the baseline is the gateway's counts right now."""
    ep = await handlers.live_endpoint(repos, endpoint)
    target = await handlers.live_deployment(repos, body["to"])
    if target["endpoint"] != endpoint:
        raise Invalid(f"deployment {body['to']!r} is not on endpoint {endpoint!r}")
    running = await repos.rollouts.find({"endpoint": endpoint, "status": "running"})
    if running:
        raise Conflict(f"rollout {running[0]['_id']} is still running on {endpoint!r}")
    source = body.get("from") or max(ep["traffic"], key=ep["traffic"].get, default=None)
    steps = domain.check_steps(body["steps"])
    baseline = await _snapshot(gateway, body["to"])
    doc = {"_id": uuid.uuid4().hex[:12], "endpoint": endpoint, "from": source, "to": body["to"],
           "steps": steps, "bake_s": body["bake_s"], "guards": body["guards"], "step": 0,
           "status": "running", "step_started_at": time.time(), "baseline": baseline,
           "breach": None}  # fmt: skip
    traffic = split(source, body["to"], steps[0])
    event = RolloutStepTaken(rollout_id=doc["_id"], endpoint_name=endpoint, from_deployment=source,
                             to_deployment=body["to"], step=0, traffic=traffic)  # fmt: skip
    await repos.rollouts.insert(doc, [event])
    await handlers.set_traffic(repos, endpoint, traffic, None)
    return await repos.rollouts.get(doc["_id"])


async def _snapshot(gateway: GatewayStats, deployment: str) -> Doc | None:
    try:
        stats = await gateway.stats()
    except Exception as exc:  # the gateway may be down at the start: guard from zero
        log.warning("gateway_stats_unavailable", error=repr(exc))
        return None
    entry: Doc | None = stats.get("deployments", {}).get(deployment)
    return entry


def breach(guards: Doc, win: domain.Window) -> tuple[str, float, float] | None:
    """(metric, observed, threshold) of the first guard the window breaks, if any."""
    if win.requests < int(guards.get("min_requests", 20)):
        return None
    if "max_error_rate" in guards and win.error_rate > float(guards["max_error_rate"]):
        return "error_rate", win.error_rate, float(guards["max_error_rate"])
    p99 = win.quantile(0.99)
    if "max_p99_ms" in guards and p99 is not None and p99 > float(guards["max_p99_ms"]):
        return "p99_ms", p99, float(guards["max_p99_ms"])
    return None


async def advance_rollouts(repos: Repositories, gateway: GatewayStats) -> None:
    """One pass over running rollouts: roll back on a breach, else advance baked steps."""
    running = await repos.rollouts.find({"status": "running"})
    if not running:
        return
    stats = (await gateway.stats()).get("deployments", {})
    for doc in running:
        now = stats.get(doc["to"])
        found = breach(doc["guards"], domain.window(doc["baseline"], now)) if now else None
        if doc.get("breach"):
            found = (doc["breach"]["metric"], doc["breach"].get("observed", 1.0), 0.0)
        if found is not None:
            await rollback(repos, doc, *found)
        elif time.time() - doc["step_started_at"] >= doc["bake_s"]:
            await _next_step(repos, doc)


async def rollback(
    repos: Repositories, doc: Doc, metric: str, observed: float, threshold: float
) -> None:
    traffic = {doc["from"]: 100, doc["to"]: 0} if doc["from"] else {doc["to"]: 100}
    event = RolloutRolledBack(
        rollout_id=doc["_id"], endpoint_name=doc["endpoint"],
        to_deployment=doc["from"] or doc["to"],
        reason=f"{metric} {observed:.4g} breached {threshold:.4g}", metric=metric,
        observed=observed, threshold=threshold, traffic=traffic,
    )  # fmt: skip
    await repos.rollouts.update(doc, {"status": "rolled_back", "reason": event.reason}, [event])
    await handlers.set_traffic(repos, doc["endpoint"], traffic, None)
    log.warning("rollout_rolled_back", rollout=doc["_id"], metric=metric, observed=observed)


async def _next_step(repos: Repositories, doc: Doc) -> None:
    step = doc["step"] + 1
    if step >= len(doc["steps"]):
        await repos.rollouts.update(doc, {"status": "completed"})
        return
    traffic = split(doc["from"], doc["to"], doc["steps"][step])
    event = RolloutStepTaken(rollout_id=doc["_id"], endpoint_name=doc["endpoint"],
                             from_deployment=doc["from"], to_deployment=doc["to"], step=step,
                             traffic=traffic)  # fmt: skip
    changes = {"step": step, "step_started_at": time.time()}
    await repos.rollouts.update(doc, changes, [event])
    await handlers.set_traffic(repos, doc["endpoint"], traffic, None)


async def flag_breach(
    repos: Repositories, model_name: str, version: int | None, metric: str
) -> int:
    """A drift or performance event naming a rollout's target version: that rollout rolls
    back. An event without a version (an endpoint's input drift) flags nothing."""
    if version is None:
        return 0
    flagged = 0
    for doc in await repos.rollouts.find({"status": "running"}):
        target = await repos.deployments.get(doc["to"])
        if domain.is_evidence_against(target, model_name, version):
            await repos.rollouts.update(doc, {"breach": {"metric": metric, "observed": 1.0}})
            flagged += 1
    return flagged


async def start_pending(repos: Repositories, gateway: GatewayStats) -> None:
    """Deployments created by alias-follow start their rollout once Healthy, from whatever is
    live then. One that became Healthy while an earlier move still rolls out waits for that
    rollout to end (moves roll out in order); one that a newer follow of the endpoint supersedes
    never rolls out. The rollout starts before the mark is cleared, so a crash in between
    repeats nothing (a rollout to the deployment already exists) and loses nothing."""
    query = {"state": "Healthy", "deleted": False, "pending_rollout": {"$ne": None}}
    for doc in await repos.deployments.find(query):
        pending = doc["pending_rollout"]
        endpoint = doc["endpoint"]
        rollouts = await repos.rollouts.find({"endpoint": endpoint})
        if any(r["status"] == "running" and r["to"] != doc["_id"] for r in rollouts):
            continue  # the next tick looks again
        traffic = (await repos.endpoints.get(endpoint))["traffic"]
        done = any(r["to"] == doc["_id"] for r in rollouts) or traffic.get(doc["_id"]) == 100
        if not done and not await _superseded(repos, doc):
            body = {**pending, "to": doc["_id"], "from": None}  # the live one when it starts
            try:
                await start_rollout(repos, gateway, endpoint, body)
            except (Conflict, Invalid) as exc:
                log.warning("pending_rollout_skipped", deployment=doc["_id"], reason=exc.message)
        with contextlib.suppress(Conflict):  # changed meanwhile: the next tick clears it
            await repos.deployments.update(doc, {"pending_rollout": None})


async def _superseded(repos: Repositories, doc: Doc) -> bool:
    """A newer alias-follow deployment exists on the endpoint: this move is stale."""
    newer = [
        d for d in await repos.deployments.find({"endpoint": doc["endpoint"], "deleted": False})
        if str(d.get("created_by", "")).startswith("follow:")
        and d["created_at"] > doc["created_at"]
    ]  # fmt: skip
    if newer:
        log.info("pending_rollout_superseded", deployment=doc["_id"], by=newer[0]["_id"])
    return bool(newer)

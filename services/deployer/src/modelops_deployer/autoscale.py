"""Autoscaling on observed concurrency: the gateway's in-flight + queued requests per deployment
set the desired replica count between min and max (quick up, slow down)."""

import time
from typing import Any

import structlog

from modelops_deployer import domain
from modelops_deployer.ports import GatewayStats
from modelops_deployer.repository import Repositories
from modelops_servicekit.errors import Conflict

log = structlog.get_logger(__name__)


async def autoscale(
    repos: Repositories, gateway: GatewayStats, up_cooldown_s: float, down_cooldown_s: float
) -> None:
    """One pass over deployments whose max exceeds their min."""
    docs = await repos.deployments.find(
        {"deleted": False, "state": {"$in": ["Healthy", "Unhealthy"]}}
    )
    scalable = [d for d in docs if d["replicas_max"] > d["replicas_min"]]
    if not scalable:
        return
    load: dict[str, Any] = (await gateway.stats()).get("load", {})
    now = time.time()
    for doc in scalable:
        entry = load.get(doc["_id"])
        if entry is None:
            continue
        observed = float(entry["in_flight"] + entry["queued"])
        want = domain.desired_replicas(
            doc["desired"],
            doc["replicas_min"],
            doc["replicas_max"],
            observed,
            doc["max_concurrency"],
        )
        cooldown = up_cooldown_s if want > doc["desired"] else down_cooldown_s
        if want == doc["desired"] or now - doc.get("scaled_at", 0.0) < cooldown:
            continue
        try:
            await repos.deployments.update(doc, {"desired": want, "scaled_at": now})
        except Conflict:
            continue
        log.info("deployment_scaled", deployment=doc["_id"], replicas=want, load=observed)

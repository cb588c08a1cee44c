"""Shadow deployments: another version of an endpoint's model next to its live deployment
(same spec; the version's own image or files) that receives a mirrored share of the live
traffic once Healthy and never answers a client. The gateway counts how often its prediction
agrees with the live one; the jobs service's promotion policies read that to judge a challenger.

A shadow is named `<endpoint>-shadow-v<version>`, the natural key that makes starting it again
(a retry, a redelivery) a no-op.
"""

from typing import Any

import structlog

from modelops_deployer import handlers
from modelops_deployer.following import version_spec
from modelops_deployer.handlers import insert_fresh, live_endpoint
from modelops_deployer.model_folders import ModelFolders
from modelops_deployer.ports import GatewayStats
from modelops_deployer.repository import Repositories
from modelops_servicekit.errors import Conflict, Invalid, NotFound

log = structlog.get_logger(__name__)
Doc = dict[str, Any]
AWAITING_IMAGE = "AwaitingImage"


def shadow_name(endpoint: str, version: int) -> str:
    return f"{endpoint}-shadow-v{version}"[:128]


async def start_shadow(
    repos: Repositories, folders: ModelFolders, gateway: GatewayStats | None,
    endpoint_name: str, version: int, percent: int, model_name: str | None, user: str,
) -> Doc:  # fmt: skip
    """Create the shadow (idempotent); it is mirrored `percent`% of the traffic once Healthy.
    An image target whose version has no image yet answers `AwaitingImage`: ask again later.
    The answer is the shadow's status (with the gateway's counts when it is given)."""
    endpoint = await live_endpoint(repos, endpoint_name)
    live = max(endpoint["traffic"], key=endpoint["traffic"].get, default=None)
    if live is None:
        raise Conflict(f"endpoint {endpoint_name!r} has no live deployment to shadow")
    base = await repos.deployments.get(live)
    model = model_name or base["model_name"]
    if (model, version) == (base["model_name"], base["version"]):
        raise Conflict(f"{model}:{version} is what endpoint {endpoint_name!r} serves already")
    others = sum(
        p for n, p in endpoint["mirror"].items() if n != shadow_name(endpoint_name, version)
    )
    if others + percent > 50:
        raise Conflict(f"mirror traffic is at most 50% in total; {others}% is mirrored already")
    name = shadow_name(endpoint_name, version)
    existing = await repos.deployments.collection.find_one({"_id": name, "deleted": False})
    if existing is None:
        spec = await version_spec(repos, folders, endpoint, base, name, model, version)
        if spec is None:
            return {"deployment": name, "endpoint": endpoint_name, "model_name": model,
                    "version": version, "state": AWAITING_IMAGE, "percent": 0,
                    "mirroring": False, "stats": None}  # fmt: skip
        spec |= {"created_by": user, "pending_mirror": percent, "shadow": True}
        if await insert_fresh(repos, spec):
            log.info("shadow_started", endpoint=endpoint_name, deployment=name, percent=percent)
    return await shadow_status(repos, gateway, endpoint_name, version)


async def mirror_pending(repos: Repositories) -> list[str]:
    """Healthy shadows start receiving their mirrored share; returns the endpoints changed."""
    changed = []
    query = {"state": "Healthy", "deleted": False, "pending_mirror": {"$gt": 0}}
    for doc in await repos.deployments.find(query):
        percent = doc["pending_mirror"]
        endpoint = await repos.endpoints.get(doc["endpoint"])
        mirror = {**endpoint["mirror"], doc["_id"]: percent}
        try:  # setting the same mirror again is harmless: a retry repeats both writes
            await handlers.set_traffic(repos, doc["endpoint"], None, mirror)
            await repos.deployments.update(doc, {"pending_mirror": None})
        except (Conflict, Invalid) as exc:  # changed meanwhile: the next tick retries
            log.warning("shadow_mirror_deferred", deployment=doc["_id"], reason=exc.message)
            continue
        changed.append(doc["endpoint"])
    return changed


async def shadow_status(
    repos: Repositories, gateway: GatewayStats | None, endpoint_name: str, version: int
) -> Doc:
    """The shadow's state, its mirrored share, and (with the gateway) how it compares."""
    name = shadow_name(endpoint_name, version)
    doc = await repos.deployments.collection.find_one({"_id": name, "deleted": False})
    if doc is None:
        raise NotFound(f"endpoint {endpoint_name!r} has no shadow of version {version}")
    endpoint = await live_endpoint(repos, endpoint_name)
    out: Doc = {
        "deployment": name,
        "endpoint": endpoint_name,
        "model_name": doc["model_name"],
        "version": version,
        "state": doc.get("state") or "Creating",
        "reason": doc.get("reason", ""),
        "percent": endpoint["mirror"].get(name, 0),
        "mirroring": endpoint["mirror"].get(name, 0) > 0,
    }
    if gateway is not None:
        stats = await gateway.stats()
        out["stats"] = stats.get("mirrors", {}).get(name)
    return out


async def stop_shadow(repos: Repositories, endpoint_name: str, version: int) -> bool:
    """Stop mirroring to the shadow and delete it; False if there was none."""
    name = shadow_name(endpoint_name, version)
    doc = await repos.deployments.collection.find_one({"_id": name, "deleted": False})
    if doc is None:
        return False
    endpoint = await live_endpoint(repos, endpoint_name)
    if name in endpoint["mirror"]:
        mirror = {n: p for n, p in endpoint["mirror"].items() if n != name}
        await handlers.set_traffic(repos, endpoint_name, None, mirror)
    await handlers.mark_deployment_deleted(repos, await repos.deployments.get(name))
    log.info("shadow_stopped", endpoint=endpoint_name, deployment=name)
    return True

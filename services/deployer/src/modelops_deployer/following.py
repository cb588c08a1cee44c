"""Endpoints that follow `model@alias`: when the alias moves, a deployment of the new version
is created next to the live one (same spec, image of the new version) and rolled out."""

from typing import Any

import structlog

from modelops_contracts.events import ModelAliasSet
from modelops_deployer.repository import Repositories
from modelops_servicekit.errors import Conflict

log = structlog.get_logger(__name__)
DROPPED = ("_id", "rev", "failed_spec", "log_tail", "scaled_at", "reason", "reconciled")
GUARDS = {"max_error_rate": 0.01, "max_p99_ms": 1000.0, "min_requests": 20}
DEFAULT_ROLLOUT = {"steps": [10, 50, 100], "bake_s": 60.0, "guards": GUARDS}


async def follow_alias(repos: Repositories, event: ModelAliasSet) -> list[str]:
    """Create the new version's deployment on each following endpoint; returns their names."""
    created = []
    wanted = f"{event.model_name}@{event.alias}"
    for endpoint in await repos.endpoints.find({"follow": wanted, "deleted": False}):
        live = max(endpoint["traffic"], key=endpoint["traffic"].get, default=None)
        if live is None:
            continue
        base = await repos.deployments.get(live)
        name = f"{endpoint['_id']}-v{event.version}"[:128]
        image = await repos.images.find_one(
            {"model_name": event.model_name, "version": event.version}
        )
        spec: dict[str, Any] = {k: v for k, v in base.items() if k not in DROPPED}
        spec.update({"_id": name, "version": event.version, "spec_gen": 1, "replicas": [],
                     "restarts": [], "state": None, "upstreams": [], "generation": 0,
                     "desired": base["replicas_min"],
                     "image": image["image"] if image else base.get("image"),
                     "pending_rollout": {"from": live, **DEFAULT_ROLLOUT}})  # fmt: skip
        try:
            await repos.deployments.insert(spec, [])
        except Conflict:
            continue  # a redelivery: this version's deployment exists already
        created.append(name)
        log.info("alias_followed", endpoint=endpoint["_id"], deployment=name, version=event.version)
    return created

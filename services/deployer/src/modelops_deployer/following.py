"""Endpoints that follow `model@alias`: when the alias moves, a deployment of the new version
is created next to the live one (same spec, the new version's image or files) and rolled out.

Image targets (docker, kubernetes) need the new version's image: until the builder announces
it, the endpoint records that it awaits it (`awaiting`), and `image.built` creates the
deployment then. The newest move wins: an awaited version the alias has left is never
created. The deployment name `<endpoint>-v<version>` is the natural key that keeps a
redelivered event from creating anything twice.
"""

import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from modelops_deployer.domain import DEFAULT_ROLLOUT
from modelops_deployer.handlers import insert_fresh
from modelops_deployer.model_folders import ModelFolders
from modelops_deployer.repository import Repositories
from modelops_servicekit.errors import Conflict, Invalid, NotFound, Unavailable

log = structlog.get_logger(__name__)
Doc = dict[str, Any]
DROPPED = ("_id", "name", "rev", "failed_spec", "log_tail", "scaled_at", "reason", "reconciled",
           "pending_rollout", "pending_mirror", "created_by")  # fmt: skip
IMAGE_TARGETS = ("docker", "kubernetes")
CAS_ATTEMPTS = 8


@dataclass(frozen=True)
class Move:
    """The alias `model_name@alias` points at `version` since `since` (epoch seconds)."""

    model_name: str
    alias: str
    version: int
    since: float


async def follow_alias(
    repos: Repositories, folders: ModelFolders, model_name: str, alias: str, version: int,
    since: float | None = None,
) -> list[str]:  # fmt: skip
    """The alias moved: each following endpoint gets the version's deployment, or awaits its
    image. Returns the names of the deployments created."""
    move = Move(model_name, alias, version, time.time() if since is None else since)
    endpoints = await repos.endpoints.find({"follow": f"{model_name}@{alias}", "deleted": False})
    return await _follow_each(repos, folders, [(e, move) for e in endpoints])


async def follow_image(
    repos: Repositories, folders: ModelFolders, model_name: str, version: int
) -> list[str]:
    """The version's image exists now: endpoints awaiting it get their deployment."""
    query = {"deleted": False, "awaiting.model_name": model_name, "awaiting.version": version}
    endpoints = await repos.endpoints.find(query)
    return await _follow_each(repos, folders, [(e, Move(**e["awaiting"])) for e in endpoints])


async def _follow_each(
    repos: Repositories, folders: ModelFolders, moves: list[tuple[Doc, Move]]
) -> list[str]:
    created = []
    for endpoint, move in moves:
        try:
            created += await _follow(repos, folders, endpoint, move)
        except (Invalid, NotFound) as exc:  # permanent for this endpoint; the others go on
            log.warning("alias_follow_failed", endpoint=endpoint["_id"], version=move.version,
                        reason=exc.message)  # fmt: skip
    return created


async def _follow(
    repos: Repositories, folders: ModelFolders, endpoint: Doc, move: Move
) -> list[str]:
    """One endpoint: create the version's deployment, await its image, or see it done."""
    awaited = endpoint.get("awaiting")
    if awaited and awaited["since"] > move.since:
        log.info("alias_move_stale", endpoint=endpoint["_id"], version=move.version)
        return []  # the alias has moved on since
    live = max(endpoint["traffic"], key=endpoint["traffic"].get, default=None)
    if live is None:
        return []
    base = await repos.deployments.get(live)
    name = f"{endpoint['_id']}-v{move.version}"[:128]
    created: list[str] = []
    if not await _served(repos, base, name, move):
        spec = await _spec(repos, folders, endpoint, base, name, move)
        if spec is None:
            await _settle(repos, endpoint["_id"], move, awaiting=True)
            log.info("alias_follow_awaits_image", endpoint=endpoint["_id"], version=move.version)
            return []
        created = await _insert(repos, spec)
    await _settle(repos, endpoint["_id"], move, awaiting=False)
    return created


async def _served(repos: Repositories, base: Doc, name: str, move: Move) -> bool:
    """The live deployment is the version already, or its deployment exists (a redelivery)."""
    if (base["model_name"], base["version"]) == (move.model_name, move.version):
        return True
    return await live_named(repos, name)


async def live_named(repos: Repositories, name: str) -> bool:
    """A deployment of that name exists and is not deleted."""
    query = {"_id": name, "deleted": False}
    return await repos.deployments.collection.find_one(query, {"_id": 1}) is not None


async def _insert(repos: Repositories, spec: Doc) -> list[str]:
    if not await insert_fresh(repos, spec):
        return []  # created concurrently
    log.info("alias_followed", endpoint=spec["endpoint"], deployment=spec["_id"],
             version=spec["version"])  # fmt: skip
    return [spec["_id"]]


async def version_spec(
    repos: Repositories, folders: ModelFolders, endpoint: Doc, base: Doc, name: str,
    model_name: str, version: int,
) -> Doc | None:  # fmt: skip
    """The spec of deployment `base` for another version of the model, named `name`: its image
    (None while the builder has not built it) or its files in a fresh folder."""
    spec = {k: v for k, v in base.items() if k not in DROPPED}
    if base["target"] in IMAGE_TARGETS:
        image = await repos.images.find_one({"model_name": model_name, "version": version})
        if image is None:
            return None
        spec["image"] = image["image"]
    elif base["target"] == "process":
        folder = await folders.materialise(
            model_name, version, endpoint["_id"], base.get("model_dir")
        )
        spec["model_dir"] = str(folder)
    spec.update({"_id": name, "model_name": model_name, "version": version,
                 "spec_gen": 1, "replicas": [], "restarts": [], "state": None, "upstreams": [],
                 "generation": 0, "desired": base["replicas_min"], "deleted": False,
                 "created_at": datetime.now(UTC)})  # fmt: skip
    return spec


async def _spec(
    repos: Repositories, folders: ModelFolders, endpoint: Doc, base: Doc, name: str, move: Move
) -> Doc | None:
    """The live deployment's spec for the new version; None while its image is not built."""
    spec = await version_spec(repos, folders, endpoint, base, name, move.model_name, move.version)
    if spec is None:
        return None
    policy = endpoint.get("follow_rollout") or DEFAULT_ROLLOUT
    spec["created_by"] = f"follow:{move.model_name}@{move.alias}"
    spec["pending_rollout"] = {"from": base["_id"], **policy}
    return spec


async def _settle(repos: Repositories, endpoint: str, move: Move, *, awaiting: bool) -> None:
    """Record that the endpoint awaits the move's image, or that the move is done; a newer
    move already recorded is left alone. One document write (compare-and-set, retried)."""
    wanted = asdict(move) if awaiting else None
    for _ in range(CAS_ATTEMPTS):
        doc = await repos.endpoints.get(endpoint)
        current = doc.get("awaiting")
        if current == wanted or (current and current["since"] > move.since):
            return
        try:
            await repos.endpoints.update(doc, {"awaiting": wanted})
            return
        except Conflict:
            continue  # the endpoint changed meanwhile: read it again
    raise Unavailable(f"endpoint {endpoint!r} kept changing; the follow is retried")

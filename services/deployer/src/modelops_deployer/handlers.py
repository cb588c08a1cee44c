"""Use cases on endpoints and deployments; each returns after one single-document write."""

from datetime import UTC, datetime
from typing import Any

from modelops_contracts.events import DeploymentStateChanged, EndpointUpdated
from modelops_deployer import domain
from modelops_deployer.facts import state_event
from modelops_deployer.ports import ModelResolver
from modelops_deployer.repository import Repositories
from modelops_servicekit.errors import Conflict, Invalid, NotFound

Doc = dict[str, Any]
SPEC_FIELDS = ("model_name", "version", "image", "model_dir", "cpu", "memory_mb",
               "max_concurrency", "request_timeout_s")  # fmt: skip
ROUTING_FIELDS = ("max_queue_wait_s", "data_collection", "sample_rate")


def endpoint_event(doc: Doc, **overrides: Any) -> EndpointUpdated:
    values = {"endpoint_name": doc["_id"], "traffic": doc["traffic"], "mirror": doc["mirror"],
              "auth_mode": doc["auth_mode"], "keys_revision": doc["keys_revision"],
              "generation": doc["generation"] + 1, **overrides}  # fmt: skip
    return EndpointUpdated(**values)


def public_endpoint(doc: Doc, gateway_url: str) -> Doc:
    out = {k: v for k, v in doc.items() if k not in ("_id", "key_hashes", "rev")}
    out["name"] = doc["_id"]
    out["scoring_uri"] = f"{gateway_url.rstrip('/')}/endpoints/{doc['_id']}/score"
    out["openapi_uri"] = f"{gateway_url.rstrip('/')}/endpoints/{doc['_id']}/swagger.json"
    return out


async def create_endpoint(repos: Repositories, body: Doc, user: str) -> tuple[Doc, dict[str, str]]:
    """A new endpoint; with auth mode `key`, its two keys are returned this once."""
    follow_rollout = follow_policy(body.get("follow"), body.get("follow_rollout"))
    keys = (
        {slot: domain.new_key() for slot in domain.KEY_SLOTS} if body["auth_mode"] == "key" else {}
    )
    doc = {"_id": body["name"], "auth_mode": body["auth_mode"],
           "description": body.get("description", ""),
           "key_hashes": {s: domain.hash_key(k) for s, k in keys.items()}, "keys_revision": 1,
           "traffic": {}, "mirror": {}, "follow": body.get("follow"),
           "follow_rollout": follow_rollout, "awaiting": None, "generation": 0,
           "created_by": user, "created_at": datetime.now(UTC), "deleted": False}  # fmt: skip
    old = await repos.endpoints.collection.find_one({"_id": doc["_id"]})
    if old is not None and not old.get("deleted"):
        raise Conflict(f"endpoint {doc['_id']!r} already exists")
    if old is not None:  # a tombstone: generations continue so the gateway accepts the new facts
        doc["generation"] = old["generation"] + 1
        await repos.endpoints.delete(doc["_id"])
    await repos.endpoints.insert(
        {**doc, "generation": doc["generation"] + 1}, [endpoint_event(doc)]
    )
    return await repos.endpoints.get(doc["_id"]), keys


def follow_policy(follow: str | None, policy: Doc | None) -> Doc | None:
    """An endpoint's follow rollout, checked as a started rollout's is (None: the default)."""
    if follow is not None:
        domain.parse_follow(follow)
    if policy is None:
        return None
    if follow is None:
        raise Invalid("follow_rollout needs follow (model@alias)")
    return {**policy, "steps": domain.check_steps(policy["steps"])}


async def live_endpoint(repos: Repositories, name: str) -> Doc:
    doc = await repos.endpoints.get(name)
    if doc.get("deleted"):
        raise NotFound(f"endpoint {name!r} not found")
    return doc


async def regenerate_key(repos: Repositories, name: str, slot: str) -> tuple[Doc, str]:
    """Replace one key; the other keeps working (rotation without downtime)."""
    if slot not in domain.KEY_SLOTS:
        raise Invalid("key is primary or secondary")
    doc = await live_endpoint(repos, name)
    if doc["auth_mode"] != "key":
        raise Conflict(f"endpoint {name!r} does not use keys")
    key = domain.new_key()
    revision = doc["keys_revision"] + 1
    event = endpoint_event(doc, keys_revision=revision)
    changes = {f"key_hashes.{slot}": domain.hash_key(key), "keys_revision": revision,
               "generation": event.generation}  # fmt: skip
    return await repos.endpoints.update(doc, changes, [event]), key


async def set_traffic(
    repos: Repositories, name: str, traffic: dict[str, int] | None, mirror: dict[str, int] | None
) -> Doc:
    """A new traffic and/or mirror split; checked against the endpoint's deployments."""
    doc = await live_endpoint(repos, name)
    names = {d["_id"] for d in await repos.deployments.find({"endpoint": name, "deleted": False})}
    traffic = doc["traffic"] if traffic is None else traffic
    mirror = doc["mirror"] if mirror is None else mirror
    domain.check_traffic(traffic, names)
    domain.check_mirror(mirror, traffic, names)
    event = endpoint_event(doc, traffic=traffic, mirror=mirror)
    changes = {"traffic": traffic, "mirror": mirror, "generation": event.generation}
    return await repos.endpoints.update(doc, changes, [event])


async def delete_endpoint(repos: Repositories, name: str) -> None:
    doc = await live_endpoint(repos, name)
    for dep in await repos.deployments.find({"endpoint": name, "deleted": False}):
        await mark_deployment_deleted(repos, dep)
    event = endpoint_event(doc, deleted=True, traffic={}, mirror={})
    changes = {"deleted": True, "traffic": {}, "mirror": {}, "generation": event.generation}
    await repos.endpoints.update(doc, changes, [event])


async def create_deployment(
    repos: Repositories, resolver: ModelResolver, body: Doc, user: str
) -> Doc:
    """A new deployment on an endpoint; the controller starts it. The first one takes 100%."""
    endpoint = await live_endpoint(repos, body["endpoint"])
    model_name, version = await resolve(resolver, body)
    if body["target"] == "docker" and not body.get("image"):
        image = await repos.images.find_one({"model_name": model_name, "version": version})
        body["image"] = image["image"] if image else None
    lo, hi = body["replicas_min"], max(body["replicas_min"], body["replicas_max"] or 0)
    name = body.pop("name")  # the document's _id, not a field of its own
    doc = {**body, "_id": name, "model_name": model_name, "version": version,
           "replicas_max": hi, "desired": lo, "spec_gen": 1, "replicas": [], "restarts": [],
           "state": None, "upstreams": [], "reason": "", "generation": 0, "deleted": False,
           "created_by": user, "created_at": datetime.now(UTC)}  # fmt: skip
    if not await insert_fresh(repos, doc):
        raise Conflict(f"deployment {doc['_id']!r} already exists")
    if not endpoint["traffic"]:
        await set_traffic(repos, endpoint["_id"], {doc["_id"]: 100}, None)
    return await repos.deployments.get(doc["_id"])


async def insert_fresh(repos: Repositories, spec: Doc) -> bool:
    """Insert a new deployment, in place of a deleted one of the same name (its generation
    carried on, so the gateway never mistakes the new states for old ones); False if a live
    one exists (created concurrently)."""
    old = await repos.deployments.collection.find_one({"_id": spec["_id"]})
    if old is not None:
        if not old.get("deleted"):
            return False
        spec = {**spec, "generation": old["generation"]}
        gone = await repos.deployments.collection.delete_one({"_id": spec["_id"], "deleted": True})
        if gone.deleted_count == 0:
            return False  # replaced concurrently by a live one
    try:
        await repos.deployments.insert(spec, [])
    except Conflict:
        return False
    return True


async def resolve(resolver: ModelResolver, body: Doc) -> tuple[str, int]:
    """`model` as `name@alias`, `name:3` or `name`; or explicit model_name + version."""
    if body.get("model"):
        name, selector = domain.parse_model_ref(body["model"])
        if selector.isdigit():
            return name, int(selector)
        return name, await resolver.resolve(name, selector)
    if body.get("model_name") and body.get("version"):
        return str(body["model_name"]), int(body["version"])
    raise Invalid("give model (name@alias, name:version) or model_name and version")


async def update_deployment(
    repos: Repositories, resolver: ModelResolver, name: str, body: Doc
) -> Doc:
    """Update in place: a new spec rolls out replica by replica behind the same URL and keys."""
    doc = await live_deployment(repos, name)
    if body.get("model") or body.get("version"):
        body["model_name"], body["version"] = await resolve(resolver, {**doc, **body})
    changes = {k: v for k, v in body.items() if v is not None and k != "model"}
    spec_changed = any(k in SPEC_FIELDS and changes[k] != doc.get(k) for k in changes)
    if spec_changed:
        changes["spec_gen"] = doc["spec_gen"] + 1
    merged = {**doc, **changes}
    lo, hi = (
        int(merged["replicas_min"]),
        max(int(merged["replicas_min"]), int(merged["replicas_max"])),
    )
    changes.update({"replicas_max": hi, "desired": max(lo, min(hi, doc["desired"]))})
    events: list[Any] = []
    if any(k in ROUTING_FIELDS for k in changes) and not spec_changed:
        merged = {**doc, **changes}
        events = [state_event(merged, doc.get("state") or "Transitioning", doc["upstreams"], "")]
        changes["generation"] = events[0].generation
    return await repos.deployments.update(doc, changes, events)


async def live_deployment(repos: Repositories, name: str) -> Doc:
    doc = await repos.deployments.get(name)
    if doc.get("deleted"):
        raise NotFound(f"deployment {name!r} not found")
    return doc


async def delete_deployment(repos: Repositories, name: str) -> None:
    doc = await live_deployment(repos, name)
    endpoint = await repos.endpoints.get(doc["endpoint"])
    if endpoint["traffic"].get(name, 0) > 0 or endpoint["mirror"].get(name, 0) > 0:
        raise Conflict(f"deployment {name!r} still takes traffic; move it first")
    await mark_deployment_deleted(repos, doc)


async def mark_deployment_deleted(repos: Repositories, doc: Doc) -> None:
    event = DeploymentStateChanged(
        deployment_name=doc["_id"], endpoint_name=doc["endpoint"], model_name=doc["model_name"],
        version=doc["version"], state="Deleted", previous_state=doc.get("state"),
        generation=doc["generation"] + 1,
    )  # fmt: skip
    changes = {"deleted": True, "state": "Deleted", "upstreams": [], "generation": event.generation}
    await repos.deployments.update(doc, changes, [event])

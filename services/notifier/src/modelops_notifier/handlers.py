"""Use cases: fan events out into deliveries, manage subscriptions, replay, test, alert."""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from modelops_contracts.events import Event
from modelops_notifier.directory import Directory, Rule
from modelops_notifier.dispatcher import Dispatcher
from modelops_notifier.domain import (
    PING_TYPE,
    Status,
    alert_text,
    cloudevent_json,
    cooldown_key,
    delivery_id,
    now,
)
from modelops_notifier.netguard import AddressPolicy, check_target
from modelops_notifier.ports import AlertRules, Cooldowns, Deliveries, Doc, Subscriptions
from modelops_notifier.signing import new_secret
from modelops_servicekit.errors import Conflict, Invalid, NotFound

log = structlog.get_logger(__name__)


@dataclass
class Notifier:
    """Everything the use cases work with (ports and the dispatcher)."""

    subscriptions: Subscriptions
    rules: AlertRules
    cooldowns: Cooldowns
    deliveries: Deliveries
    directory: Directory
    dispatcher: Dispatcher
    policy: AddressPolicy
    secret_overlap_s: float
    default_cooldown_s: float


def new_delivery(
    sub_id: str, kind: str, event_id: str, event_type: str, entity: str, body: str, at: datetime
) -> Doc:
    return {
        "_id": delivery_id(sub_id, event_id),
        "subscription_id": sub_id,
        "kind": kind,
        "event_id": event_id,
        "event_type": event_type,
        "entity": entity,
        "body": body,
        "status": str(Status.PENDING),
        "created_at": at,
        "next_attempt_at": at,
        "attempt_count": 0,
        "series": 0,
        "series_attempts": 0,
        "attempts": [],
    }


# -- fan-out ------------------------------------------------------------------------------------
async def on_event(event: Event, n: Notifier) -> None:
    """One delivery per matching subscription (and alert), attempted and stored before the ack."""
    at = now()
    event_type, entity = event.event_type(), event.entity()
    data = event.model_dump(mode="json")
    targets = n.directory.matching(event_type, entity, data)
    docs = []
    if targets:
        body = cloudevent_json(event)
        docs = [
            new_delivery(t.id, "webhook", str(event.event_id), event_type, entity, body, at)
            for t in targets
        ]
    for rule in n.directory.matching_rules(event_type, entity, data):
        alert = await _alert_delivery(rule, event, data, at, n)
        if alert is not None:
            docs.append(alert)
    if docs:  # attempted at once; returns (and the event is acked) once stored
        await n.dispatcher.deliver(str(event.event_id), docs)


async def _alert_delivery(
    rule: Rule, event: Event, data: Doc, at: datetime, n: Notifier
) -> Doc | None:
    key = f"{rule.id}:{cooldown_key(event.entity())}"
    until = at + timedelta(seconds=rule.cooldown_s)
    if not await n.cooldowns.claim(key, str(event.event_id), until, at):
        log.info("alert_suppressed", rule_id=rule.id, key=key)
        return None
    text = alert_text(rule.name, event.event_type(), event.entity(), data)
    kind = rule.channel["kind"]
    event_id, event_type, entity = str(event.event_id), event.event_type(), event.entity()
    if kind == "slack":
        body = json.dumps({"text": text})
        doc = new_delivery(rule.id, kind, event_id, event_type, entity, body, at)
        doc["target_url"] = rule.channel["url"]
    else:
        doc = new_delivery(rule.id, kind, event_id, event_type, entity, text, at)
        doc.update(to=list(rule.channel["to"]), email_subject=text[:120])
    return doc


# -- subscriptions ------------------------------------------------------------------------------
def _secret_entry(secret: str, at: datetime) -> Doc:
    return {"secret": secret, "created_at": at, "expires_at": None}


async def create_subscription(spec: Doc, user: str, n: Notifier) -> tuple[Doc, str]:
    """Validate the target, store the subscription; the secret is returned only now."""
    await check_target(spec["url"], spec.get("allow_insecure", False), n.policy)
    at, secret = now(), new_secret()
    doc = {
        **spec,
        "_id": "sub_" + uuid.uuid4().hex,
        "secrets": [_secret_entry(secret, at)],
        "disabled": False,
        "disabled_reason": None,
        "created_at": at,
        "updated_at": at,
        "created_by": user,
    }
    await n.subscriptions.insert(doc)
    await n.directory.changed()
    log.info("subscription_created", subscription_id=doc["_id"], url=doc["url"])
    return doc, secret


async def get_subscription(sub_id: str, n: Notifier) -> Doc:
    doc = await n.subscriptions.get(sub_id)
    if doc is None:
        raise NotFound(f"no subscription {sub_id!r}")
    return doc


async def update_subscription(sub_id: str, changes: Doc, n: Notifier) -> Doc:
    """Change fields; a new URL is checked again; resuming releases held deliveries."""
    current = await get_subscription(sub_id, n)
    merged = {**current, **changes}
    if "url" in changes or "allow_insecure" in changes:
        await check_target(merged["url"], merged.get("allow_insecure", False), n.policy)
    if changes.get("disabled") is False:
        changes["disabled_reason"] = None
    updated = await n.subscriptions.update(sub_id, {**changes, "updated_at": now()})
    if updated is None:
        raise NotFound(f"no subscription {sub_id!r}")
    await n.directory.changed()
    if current.get("paused") and changes.get("paused") is False:
        await n.deliveries.release_paused(sub_id, now())
        n.dispatcher.kick()
    return updated


async def delete_subscription(sub_id: str, n: Notifier) -> None:
    if not await n.subscriptions.delete(sub_id):
        raise NotFound(f"no subscription {sub_id!r}")
    await n.directory.changed()


async def rotate_secret(sub_id: str, overlap_s: float | None, n: Notifier) -> tuple[Doc, str]:
    """A new signing secret; the previous ones keep signing for the overlap period."""
    current = await get_subscription(sub_id, n)
    at, secret = now(), new_secret()
    ends = at + timedelta(seconds=n.secret_overlap_s if overlap_s is None else overlap_s)
    kept = [
        {**s, "expires_at": min(s["expires_at"] or ends, ends)}
        for s in current.get("secrets", [])
        if s.get("expires_at") is None or s["expires_at"] > at
    ]
    secrets_ = [_secret_entry(secret, at), *kept]
    updated = await n.subscriptions.update(sub_id, {"secrets": secrets_, "updated_at": at})
    await n.directory.changed()
    assert updated is not None
    return updated, secret


async def send_test(sub_id: str, n: Notifier) -> Doc:
    """A signed `modelops.ping`, sent at once and recorded as a delivery (one attempt)."""
    sub = await get_subscription(sub_id, n)
    at, event_id = now(), str(uuid.uuid4())
    body = json.dumps(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": "/modelops/notifier",
            "type": PING_TYPE,
            "subject": f"subscriptions/{sub_id}",
            "time": at.isoformat(),
            "datacontenttype": "application/json",
            "data": {"subscription_id": sub_id, "message": "ping"},
        }
    )
    doc = new_delivery(sub_id, "webhook", event_id, PING_TYPE, f"subscriptions/{sub_id}", body, at)
    doc["max_attempts"] = 1
    if sub.get("disabled"):
        raise Conflict("the subscription is disabled; enable it first")
    if n.directory.targets.get(sub_id) is None:
        await n.directory.reload()
    return await n.dispatcher.attempt_now(doc)


# -- deliveries ---------------------------------------------------------------------------------
async def replay_delivery(delivery_id_: str, n: Notifier) -> Doc:
    """A new attempt series for a finished delivery, with the same webhook-id."""
    doc = await n.deliveries.get(delivery_id_)
    if doc is None:
        raise NotFound(f"no delivery {delivery_id_!r}")
    if doc["status"] == Status.PENDING:
        raise Conflict("the delivery is still pending; it will be attempted")
    await _requeue([doc], n)
    return await n.deliveries.get(delivery_id_) or doc


async def replay_since(sub_id: str, since: datetime, statuses: Sequence[str], n: Notifier) -> int:
    """Replay every finished delivery of a subscription created since a time."""
    await get_subscription(sub_id, n)
    docs = [d for d in await n.deliveries.finished_since(sub_id, since) if d["status"] in statuses]
    await _requeue(docs, n)
    return len(docs)


async def _requeue(docs: Sequence[Doc], n: Notifier) -> None:
    at = now()
    fresh = []
    for doc in docs:
        again = {**doc, "status": str(Status.PENDING), "next_attempt_at": at, "series_attempts": 0}
        again.update(series=doc.get("series", 0) + 1, lease_until=at, lease_token=None)
        for key in ("completed_at", "dead_letter_reason", "max_attempts", "delivery_id"):
            again.pop(key, None)
        fresh.append(again)
    await n.deliveries.enqueue(fresh)
    n.dispatcher.kick()


# -- alerts -------------------------------------------------------------------------------------
async def create_alert(spec: Doc, user: str, n: Notifier) -> Doc:
    channel = spec["channel"]
    if channel["kind"] == "slack":
        await check_target(channel["url"], spec.get("allow_insecure", False), n.policy)
    elif not channel.get("to"):
        raise Invalid("an e-mail channel needs at least one recipient")
    at = now()
    cooldown = spec.get("cooldown_s")
    doc: dict[str, Any] = {
        **spec,
        "cooldown_s": n.default_cooldown_s if cooldown is None else cooldown,
        "_id": "alr_" + uuid.uuid4().hex,
        "created_at": at,
        "created_by": user,
    }
    await n.rules.insert(doc)
    await n.directory.changed()
    return doc


async def get_alert(rule_id: str, n: Notifier) -> Doc:
    doc = await n.rules.get(rule_id)
    if doc is None:
        raise NotFound(f"no alert rule {rule_id!r}")
    return doc


async def delete_alert(rule_id: str, n: Notifier) -> None:
    if not await n.rules.delete(rule_id):
        raise NotFound(f"no alert rule {rule_id!r}")
    await n.directory.changed()

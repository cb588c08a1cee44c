"""Subscriptions, filters, retry rules and alert texts: pure logic, no I/O."""

import random
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any

from modelops_contracts.events import CloudEvent, Event

PING_TYPE = "modelops.ping"
_VERSION_SUFFIX = re.compile(r"\.v[0-9]+$")
_DELIVERY_NS = uuid.UUID("8c6f2f4e-3a57-4c1f-9c55-0b6f7e1d2a90")
_OCCURRENCES = {"runs", "requests", "windows", "rollouts"}
RETRYABLE_4XX = {408, 425, 429}

# The producing service per entity (DESIGN.md's table); the CloudEvents `source` is derived
# from the event's subject because the bus message's producer is not part of the event.
_SOURCES = {
    "model_version": "registry",
    "model_alias": "registry",
    "dataset_version": "registry",
    "image": "builder",
    "deployment": "deployer",
    "endpoint": "deployer",
    "rollout": "deployer",
    "prediction": "scoring_gateway",
    "collection_window": "data_collector",
    "drift": "drift_monitor",
    "performance": "drift_monitor",
    "run": "jobs",
    "model": "jobs",
    "batch": "jobs",
}
_SOURCE_BY_TYPE = {"model_version.profiled.v1": "builder"}


class Outcome(StrEnum):
    """What one attempt means for its delivery."""

    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"  # permanent: no retry (3xx, most 4xx)
    GONE = "gone"  # 410: the subscription is disabled


class Status(StrEnum):
    """A delivery's state: pending until delivered or dead-lettered."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD_LETTER = "dead_letter"


def now() -> datetime:
    return datetime.now(UTC)


def event_type_matches(patterns: Sequence[str], event_type: str) -> bool:
    """`*`, `model_version.*`, exact types with or without `.v1`, `modelops.` prefix allowed."""
    bare = _VERSION_SUFFIX.sub("", event_type)
    for raw in patterns:
        pattern = raw.removeprefix("modelops.")
        if fnmatchcase(event_type, pattern) or fnmatchcase(bare, pattern):
            return True
    return False


def event_subjects(entity: str, data: dict[str, Any]) -> list[str]:
    """What subject filters match: the entity plus the model and endpoint it concerns."""
    subjects = [entity] if entity else []
    if isinstance(data.get("model_name"), str):
        subjects.append(f"models/{data['model_name']}")
    if isinstance(data.get("endpoint_name"), str):
        subjects.append(f"endpoints/{data['endpoint_name']}")
    return subjects


def subject_matches(filters: Sequence[str], subjects: Iterable[str]) -> bool:
    """No filter matches everything; a filter is a path prefix (`models/churn`) or a glob."""
    if not filters:
        return True
    for subject in subjects:
        for f in filters:
            prefix = f.rstrip("/")
            if subject == prefix or subject.startswith(prefix + "/") or fnmatchcase(subject, f):
                return True
    return False


def source_of(event_type: str) -> str:
    """The CloudEvents `source`: `/modelops/<producing service>` (or `/modelops`)."""
    service = _SOURCE_BY_TYPE.get(event_type) or _SOURCES.get(event_type.split(".")[0])
    return f"/modelops/{service}" if service else "/modelops"


def cloudevent_json(event: Event) -> str:
    """The CloudEvents 1.0 structured JSON body of an event."""
    envelope = CloudEvent.wrap(event, source=source_of(event.event_type()))
    return envelope.model_dump_json(exclude_none=True)


def delivery_id(subscription_id: str, event_id: str) -> str:
    """Deterministic per (subscription, event): the `webhook-id`, stable across retries."""
    return "msg_" + uuid.uuid5(_DELIVERY_NS, f"{subscription_id}:{event_id}").hex


@dataclass(frozen=True)
class Filters:
    """Which events a subscription or alert rule wants."""

    event_types: Sequence[str] = ("*",)
    subjects: Sequence[str] = ()
    where: dict[str, str] = field(default_factory=dict)
    """Field equality on the event's data, e.g. {"state": "Failed"}."""

    def match(self, event_type: str, entity: str, data: dict[str, Any]) -> bool:
        return (
            event_type_matches(self.event_types, event_type)
            and subject_matches(self.subjects, event_subjects(entity, data))
            and all(str(data.get(k)) == v for k, v in self.where.items())
        )


@dataclass(frozen=True)
class Target:
    """Where a subscription's deliveries go, as the dispatcher needs it."""

    id: str
    url: str
    filters: Filters
    headers: dict[str, str] = field(default_factory=dict)
    secrets: Sequence[str] = ()
    paused: bool = False
    disabled: bool = False
    allow_insecure: bool = False


def classify(status_code: int | None) -> Outcome:
    """2xx delivered; timeouts, connection errors, 408/425/429 and 5xx retried; 410 gone."""
    if status_code is None:
        return Outcome.RETRY
    if 200 <= status_code < 300:
        return Outcome.DELIVERED
    if status_code == 410:
        return Outcome.GONE
    if status_code >= 500 or status_code in RETRYABLE_4XX:
        return Outcome.RETRY
    return Outcome.FAILED


def parse_retry_after(value: str | None, at: datetime) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None when absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - at).total_seconds())


def next_delay(
    attempts_made: int,
    schedule: Sequence[float],
    *,
    jitter: float,
    retry_after: float | None = None,
    max_retry_after: float = 86400.0,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds until the next attempt, or None when the schedule is exhausted."""
    if attempts_made < 1 or attempts_made > len(schedule):
        return None
    base = schedule[attempts_made - 1]
    spread = (rng or random).uniform(1 - jitter, 1 + jitter) if jitter else 1.0
    delay = base * spread
    if retry_after is not None:
        delay = max(delay, min(retry_after, max_retry_after))
    return delay


def due_at(at: datetime, delay_s: float) -> datetime:
    return at + timedelta(seconds=delay_s)


def cooldown_key(entity: str) -> str:
    """The thing an alert is about: an entity without its occurrence (`monitors/m/runs/r` -> m)."""
    parts = entity.split("/")
    if len(parts) >= 4 and parts[-2] in _OCCURRENCES:
        parts = parts[:-2]
    return "/".join(parts)


def alert_text(rule_name: str, event_type: str, entity: str, data: dict[str, Any]) -> str:
    """A short human text: what happened, to what, and the most telling fields."""
    keys = ("model_name", "endpoint_name", "state", "severity", "reason", "drift_share", "error")
    details = ", ".join(f"{k}={data[k]}" for k in keys if data.get(k) not in (None, ""))
    head = f"[modelops] {rule_name}: {event_type}"
    if entity:
        head += f" on {entity}"
    return f"{head}" + (f" ({details})" if details else "")


def slim_members(docs: list[dict[str, Any]]) -> tuple[str | None, list[dict[str, Any]]]:
    """An event's shared body (its first delivery's) and copies of its deliveries without it.

    Every webhook of an event has the same body: storing it once keeps the event's history
    record and its insert many times smaller.
    """
    if not docs:
        return None, []
    shared: str = docs[0]["body"]
    slim = [{k: v for k, v in d.items() if k != "body"} if d["body"] == shared else d for d in docs]
    return shared, slim


def fan_members(fan: dict[str, Any]) -> list[dict[str, Any]]:
    """The deliveries of a stored event record (`body` and `deliveries`), each with its body."""
    shared = fan.get("body")
    return [d if "body" in d else {**d, "body": shared} for d in fan["deliveries"]]

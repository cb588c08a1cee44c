"""When an event or a cron time starts a run of a job. Pure: no I/O.

A job's trigger names an event type, a filter on the event's fields and a cool-down. A matching
event starts a run unless one of the job's runs is still queued or running (de-duplication: a
drift storm during a retrain starts nothing) or the last triggered run started less than the
cool-down ago. Cron expressions are croniter's (5 fields, or 6 with seconds), in UTC.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter  # type: ignore[import-untyped]  # ships no type information

from modelops_servicekit.errors import Invalid

EVENT_TYPES = ("drift.detected", "performance.degraded", "collection_window.closed")
"""The events a trigger may name."""
SCHEDULE = "schedule"


@dataclass(frozen=True)
class Cause:
    """What asks for a run: an event (its type and id) or the schedule, and the cool-down."""

    event_type: str
    event_id: str | None
    cooldown_s: int

    def as_doc(self) -> dict[str, str | None]:
        return {"event_type": self.event_type, "event_id": self.event_id}


def event_type(subject: str) -> str:
    """`modelops.drift.detected.v1` -> `drift.detected`."""
    return subject.removeprefix("modelops.").rsplit(".", 1)[0]


def check_triggers(triggers: Sequence[Mapping[str, Any]], cron: str | None) -> None:
    """Raise Invalid for an unknown event type or an unreadable cron expression."""
    for trigger in triggers:
        if trigger["event"] not in EVENT_TYPES:
            known = ", ".join(EVENT_TYPES)
            raise Invalid(f"unknown trigger event {trigger['event']!r}: one of {known}")
    if cron is not None and (
        len(cron.split()) not in (5, 6) or not croniter.is_valid(" ".join(cron.split()))
    ):
        raise Invalid(f"schedule_cron {cron!r} is not a 5- or 6-field cron expression")


def _matches(filter_: Mapping[str, str], fields: Mapping[str, Any]) -> bool:
    return all(k in fields and str(fields[k]) == v for k, v in filter_.items())


def matching(job: Mapping[str, Any], kind: str, fields: Mapping[str, Any]) -> Cause | None:
    """The cause for the job's first trigger matching an event of `kind`, if any."""
    for trigger in job.get("triggers") or []:
        if trigger["event"] == kind and _matches(trigger.get("filter") or {}, fields):
            return Cause(kind, fields.get("event_id"), int(trigger["cooldown_s"]))
    return None


def utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def skip_reason(
    job: Mapping[str, Any], cause: Cause, at: datetime, active_run: str | None
) -> str | None:
    """Why the cause starts no run (an active run, the cool-down), or None to start one."""
    if active_run is not None:
        return f"run {active_run} of the job is queued or running"
    if cause.event_id is not None and job.get("last_trigger_event_id") == cause.event_id:
        return "this event already triggered a run"
    last = job.get("last_triggered_at")
    if last is not None and utc(at) - utc(last) < timedelta(seconds=cause.cooldown_s):
        until = utc(last) + timedelta(seconds=cause.cooldown_s)
        return f"cooling down until {until.isoformat()}"
    return None


def cron_next(job: Mapping[str, Any]) -> datetime | None:
    """The job's next cron time after its last scheduled run (or creation); missed times
    coalesce into one run. None without a schedule."""
    cron, base = job.get("schedule_cron"), job.get("last_scheduled_at") or job.get("created_at")
    if not cron or base is None:
        return None
    following: datetime = croniter(cron, utc(base)).get_next(datetime)
    return following

"""The pure trigger rules: matching, de-duplication, cool-down, cron, validation."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from modelops_jobs import triggers
from modelops_jobs.triggers import Cause
from modelops_servicekit.errors import Invalid

AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
JOB: dict[str, Any] = {
    "name": "retrain",
    "triggers": [
        {"event": "performance.degraded", "filter": {}, "cooldown_s": 5},
        {"event": "drift.detected", "filter": {"endpoint_name": "churn"}, "cooldown_s": 60},
    ],
}


def test_event_type_of_a_subject() -> None:
    assert triggers.event_type("modelops.collection_window.closed.v1") == "collection_window.closed"


def test_a_trigger_matches_its_event_type_and_every_filter_field() -> None:
    fields = {"event_id": "e1", "endpoint_name": "churn", "model_name": "m"}
    assert triggers.matching(JOB, "drift.detected", fields) == Cause("drift.detected", "e1", 60)
    assert triggers.matching(JOB, "drift.detected", {**fields, "endpoint_name": "x"}) is None
    assert triggers.matching(JOB, "drift.detected", {"event_id": "e1"}) is None
    assert triggers.matching(JOB, "collection_window.closed", fields) is None
    assert triggers.matching({"name": "manual"}, "drift.detected", fields) is None


@pytest.mark.parametrize(
    ("last", "active", "seen", "reason"),
    [
        (None, None, None, None),
        (None, "r1", None, "run r1 of the job is queued or running"),
        (AT - timedelta(seconds=59), None, None, "cooling down until 2026-01-01T12:00:01+00:00"),
        (AT - timedelta(seconds=60), None, "e0", None),
        ((AT - timedelta(seconds=10)).replace(tzinfo=None), None, None, "cooling down until"),
        (AT - timedelta(days=1), None, "e1", "this event already triggered a run"),
    ],
)
def test_skip_reason(
    last: datetime | None, active: str | None, seen: str | None, reason: str | None
) -> None:
    job = {**JOB, "last_triggered_at": last, "last_trigger_event_id": seen}
    got = triggers.skip_reason(job, Cause("drift.detected", "e1", 60), AT, active)
    assert got == reason if reason is None else (got or "").startswith(reason)


def test_the_next_cron_time_follows_the_last_scheduled_run_or_creation() -> None:
    job = {"schedule_cron": "0 * * * *", "created_at": AT}
    assert triggers.cron_next(job) == AT + timedelta(hours=1)
    later = {**job, "last_scheduled_at": AT + timedelta(hours=3, minutes=5)}
    assert triggers.cron_next(later) == AT + timedelta(hours=4)
    assert triggers.cron_next({"created_at": AT}) is None


@pytest.mark.parametrize(
    ("triggers_", "cron"),
    [([{"event": "model.registered"}], None), ([], "every day"), ([], "* * *"), ([], "61 * * * *")],
)
def test_unknown_events_and_bad_cron_are_invalid(
    triggers_: list[dict[str, Any]], cron: str | None
) -> None:
    with pytest.raises(Invalid):
        triggers.check_triggers(triggers_, cron)


def test_known_events_and_cron_are_valid() -> None:
    triggers.check_triggers(JOB["triggers"], "*/5 * * * * 30")

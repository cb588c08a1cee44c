"""Pure rules: filters, retry schedule, outcomes, Retry-After, cool-down keys, sources."""

import random
from datetime import UTC, datetime

import pytest

from modelops_notifier.domain import (
    Filters,
    Outcome,
    classify,
    cooldown_key,
    delivery_id,
    event_type_matches,
    next_delay,
    parse_retry_after,
    source_of,
    subject_matches,
)


@pytest.mark.parametrize(
    ("patterns", "event_type", "expected"),
    [
        (["*"], "drift.detected.v1", True),
        (["model_version.*"], "model_version.registered.v1", True),
        (["model_version.*"], "model_alias.set.v1", False),
        (["model_version.registered"], "model_version.registered.v1", True),
        (["model_version.registered.v1"], "model_version.registered.v1", True),
        (["modelops.model_version.registered"], "model_version.registered.v1", True),
        (["model_version.registered.v2"], "model_version.registered.v1", False),
        (["deployment.state_changed", "drift.*"], "drift.detected.v1", True),
        ([], "drift.detected.v1", False),
    ],
)
def test_event_type_patterns(patterns: list[str], event_type: str, expected: bool) -> None:
    assert event_type_matches(patterns, event_type) is expected


def test_subject_filters_match_entities_models_and_endpoints() -> None:
    assert subject_matches([], ["anything"])
    assert subject_matches(["models/churn"], ["models/churn/versions/3"])
    assert not subject_matches(["models/churn"], ["models/churnx/versions/3"])
    assert subject_matches(["models/*/versions/1"], ["models/a/versions/1"])
    drift = Filters(("drift.detected",), ("models/churn",))
    data = {"model_name": "churn", "endpoint_name": "front"}
    assert drift.match("drift.detected.v1", "monitors/m/runs/r", data)
    assert Filters(("*",), ("endpoints/front",)).match("drift.detected.v1", "monitors/m", data)
    assert not drift.match("drift.detected.v1", "monitors/m/runs/r", {"model_name": "other"})


def test_where_filters_on_event_fields() -> None:
    failed = Filters(("deployment.state_changed",), (), {"state": "Failed"})
    assert failed.match("deployment.state_changed.v1", "endpoints/e", {"state": "Failed"})
    assert not failed.match("deployment.state_changed.v1", "endpoints/e", {"state": "Healthy"})


def test_backoff_follows_the_schedule_with_bounded_jitter_and_honours_retry_after() -> None:
    schedule = [5.0, 300.0, 1800.0]
    rng = random.Random(7)
    for attempt, base in enumerate(schedule, start=1):
        delay = next_delay(attempt, schedule, jitter=0.2, rng=rng)
        assert delay is not None
        assert base * 0.8 <= delay <= base * 1.2
    assert next_delay(4, schedule, jitter=0.2) is None  # the last attempt was made
    assert next_delay(1, schedule, jitter=0, retry_after=60) == 60
    assert next_delay(2, schedule, jitter=0, retry_after=60) == 300
    assert next_delay(1, schedule, jitter=0, retry_after=10**9, max_retry_after=3600) == 3600


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.DELIVERED),
        (204, Outcome.DELIVERED),
        (None, Outcome.RETRY),
        (429, Outcome.RETRY),
        (500, Outcome.RETRY),
        (503, Outcome.RETRY),
        (408, Outcome.RETRY),
        (410, Outcome.GONE),
        (301, Outcome.FAILED),
        (400, Outcome.FAILED),
        (404, Outcome.FAILED),
    ],
)
def test_classify(status: int | None, outcome: Outcome) -> None:
    assert classify(status) is outcome


def test_retry_after_seconds_and_http_dates() -> None:
    at = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", at) == 120
    assert parse_retry_after("Thu, 01 Jan 2026 12:01:00 GMT", at) == 60
    assert parse_retry_after("garbage", at) is None
    assert parse_retry_after(None, at) is None


def test_cooldown_key_drops_the_occurrence() -> None:
    assert cooldown_key("monitors/m1/runs/r9") == "monitors/m1"
    assert cooldown_key("endpoints/e/deployments/blue") == "endpoints/e/deployments/blue"
    assert cooldown_key("runs/r1") == "runs/r1"


def test_sources_and_delivery_ids() -> None:
    assert source_of("model_version.registered.v1") == "/modelops/registry"
    assert source_of("model_version.profiled.v1") == "/modelops/builder"
    assert source_of("drift.detected.v1") == "/modelops/drift_monitor"
    assert source_of("unknown.thing.v1") == "/modelops"
    assert delivery_id("sub_1", "e1") == delivery_id("sub_1", "e1")
    assert delivery_id("sub_1", "e1") != delivery_id("sub_2", "e1")

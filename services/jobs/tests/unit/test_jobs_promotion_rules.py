"""Promotion criteria: thresholds and margins in the metric's direction, the decision, and the
shadow period's counts, verdicts and end."""

import pytest

from modelops_jobs.promotion import (
    Criterion,
    ShadowCounts,
    decision,
    in_holdout,
    judge,
    judge_shadow,
    shadow_due,
)


def test_threshold_follows_the_metric_direction() -> None:
    (acc,) = judge([Criterion("accuracy", threshold=0.9)], {"accuracy": 0.89}, None)
    assert not acc.passed
    assert ">= 0.9" in acc.reason
    (rmse,) = judge([Criterion("rmse", threshold=3.0)], {"rmse": 2.5}, None)
    assert rmse.passed
    assert "no champion" in rmse.reason


@pytest.mark.parametrize(
    ("criterion", "challenger", "champion", "passed"),
    [
        (Criterion("f1", min_improvement=0.01), 0.92, 0.90, True),
        (Criterion("f1", min_improvement=0.01), 0.905, 0.90, False),
        (Criterion("f1", min_improvement=-0.01), 0.895, 0.90, True),  # a tolerated loss
        (Criterion("rmse", min_improvement=0.5), 2.0, 3.0, True),  # lower is better
        (Criterion("rmse", min_improvement=0.5), 2.8, 3.0, False),
        (Criterion("f1", min_relative_improvement=0.05), 0.85, 0.80, True),
        (Criterion("f1", min_relative_improvement=0.05), 0.83, 0.80, False),
        (Criterion("latency", higher_is_better=False, threshold=10), 9.0, 20.0, True),
    ],
)
def test_margins_over_the_champion(
    criterion: Criterion, challenger: float, champion: float, passed: bool
) -> None:
    m = criterion.metric
    (verdict,) = judge([criterion], {m: challenger}, {m: champion})
    assert verdict.passed is passed, verdict.reason
    assert (verdict.challenger, verdict.champion) == (challenger, champion)


def test_margins_do_not_apply_without_a_champion_but_a_missing_metric_fails() -> None:
    (first,) = judge([Criterion("f1", min_improvement=0.5)], {"f1": 0.1}, None)
    assert first.passed
    (missing,) = judge([Criterion("roc_auc", threshold=0.5)], {"f1": 0.9}, None)
    assert not missing.passed
    assert "no roc_auc" in missing.reason


def test_the_decision_needs_every_criterion_and_enough_rows() -> None:
    verdicts = judge(
        [Criterion("accuracy", threshold=0.8), Criterion("f1", threshold=0.99)],
        {"accuracy": 0.9, "f1": 0.9},
        None,
    )
    assert decision(verdicts[:1], rows=100, min_rows=50) == (True, "every criterion passed")
    ok, why = decision(verdicts, rows=100, min_rows=50)
    assert not ok
    assert why.startswith("f1")
    ok, why = decision(verdicts[:1], rows=10, min_rows=50)
    assert not ok
    assert "only 10" in why


def test_the_holdout_is_stable_and_near_its_fraction() -> None:
    ids = [f"req-{i}" for i in range(10_000)]
    held = [i for i in ids if in_holdout(i, 0.3)]
    assert held == [i for i in ids if in_holdout(i, 0.3)]
    assert 2_800 < len(held) < 3_200
    assert not any(in_holdout(i, 0.0) for i in ids[:100])


SHADOW = {"duration_s": 60.0, "min_requests": 100, "min_agreement": 0.9,
          "max_error_rate": 0.02, "timeout_s": 600.0}  # fmt: skip


def test_shadow_counts_are_the_difference_since_mirroring_started() -> None:
    start = {"mirrored": 10, "agreed": 9, "errors": 1, "dropped": 3}
    now = {"mirrored": 130, "agreed": 119, "errors": 1}
    assert ShadowCounts.since(now, start) == ShadowCounts(120, 110, 0)
    assert ShadowCounts.since(now, None) == ShadowCounts(130, 119, 1)  # a fresh shadow
    assert ShadowCounts.since(None, None) == ShadowCounts(0, 0, 0)


def test_shadow_agreement_is_over_answered_requests_and_errors_over_all() -> None:
    agreement, errors = judge_shadow(SHADOW, ShadowCounts(mirrored=200, agreed=171, errors=10))
    assert agreement.metric == "shadow_agreement"
    assert agreement.challenger == pytest.approx(0.9)  # 171 of 190 answered
    assert agreement.passed
    assert errors.challenger == pytest.approx(0.05)
    assert not errors.passed
    assert "5.00% of 200" in errors.reason
    (low, _) = judge_shadow(SHADOW, ShadowCounts(mirrored=100, agreed=50, errors=0))
    assert not low.passed
    assert "< 90.00%" in low.reason


@pytest.mark.parametrize(
    ("counts", "mirrored_s", "waited_s", "due"),
    [
        (ShadowCounts(500, 500, 0), None, 100.0, None),  # not mirroring yet
        (ShadowCounts(500, 500, 0), 30.0, 100.0, None),  # too short
        (ShadowCounts(99, 99, 0), 61.0, 100.0, None),  # too few requests: wait on
        (ShadowCounts(100, 99, 0), 61.0, 100.0, "judge"),
        (ShadowCounts(99, 99, 0), 61.0, 600.0, "expired"),
        (ShadowCounts(0, 0, 0), None, 601.0, "expired"),  # never became Healthy
    ],
)
def test_the_shadow_period_ends_long_and_busy_enough_or_at_its_timeout(
    counts: ShadowCounts, mirrored_s: float | None, waited_s: float, due: str | None
) -> None:
    assert shadow_due(SHADOW, counts, mirrored_s, waited_s) == due

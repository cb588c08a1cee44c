"""Promotion rules: policy criteria judged on a challenger against a champion. Pure: no I/O.

A criterion reads one metric and compares the challenger with an absolute threshold and/or
with the champion (by an absolute and/or a relative margin), in the metric's direction. The
challenger is promoted only if every criterion passes.
"""

import hashlib
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from modelops_servicekit.model_metrics import HIGHER_IS_BETTER


class PromotionState(StrEnum):
    """Where a promotion decision stands."""

    EVALUATING = "evaluating"
    SHADOWING = "shadowing"
    AWAITING_APPROVAL = "awaiting_approval"
    PROMOTING = "promoting"
    PROMOTED = "promoted"
    REJECTED = "rejected"
    FAILED = "failed"


ENDED = frozenset({PromotionState.PROMOTED, PromotionState.REJECTED, PromotionState.FAILED})


@dataclass(frozen=True)
class Criterion:
    """One metric's bar: a threshold, and/or a margin over the champion."""

    metric: str
    higher_is_better: bool | None = None
    threshold: float | None = None
    min_improvement: float | None = None
    """Over the champion, in the metric's units; negative tolerates a loss that small."""
    min_relative_improvement: float | None = None
    """Over the champion, as a fraction of the champion's value."""

    @property
    def higher(self) -> bool:
        if self.higher_is_better is not None:
            return self.higher_is_better
        return self.metric in HIGHER_IS_BETTER

    @classmethod
    def of(cls, raw: dict[str, Any]) -> "Criterion":
        return cls(
            metric=str(raw["metric"]),
            higher_is_better=raw.get("higher_is_better"),
            threshold=raw.get("threshold"),
            min_improvement=raw.get("min_improvement"),
            min_relative_improvement=raw.get("min_relative_improvement"),
        )


@dataclass(frozen=True)
class Verdict:
    """A criterion applied: the two values, whether it passed, and why."""

    metric: str
    challenger: float | None
    champion: float | None
    passed: bool
    reason: str

    def as_doc(self) -> dict[str, Any]:
        return asdict(self)


def gain(criterion: Criterion, challenger: float, champion: float) -> float:
    """How much better the challenger is (positive = better), in the metric's direction."""
    return challenger - champion if criterion.higher else champion - challenger


def _threshold(c: Criterion, value: float) -> str | None:
    if c.threshold is None:
        return None
    ok = value >= c.threshold if c.higher else value <= c.threshold
    sign = ">=" if c.higher else "<="
    return None if ok else f"{c.metric} {value:.4g} is not {sign} {c.threshold:g}"


def _margins(c: Criterion, value: float, champion: float | None) -> str | None:
    if champion is None or (c.min_improvement is None and c.min_relative_improvement is None):
        return None
    better = gain(c, value, champion)
    if c.min_improvement is not None and better < c.min_improvement:
        return (
            f"{c.metric} {value:.4g} vs champion {champion:.4g}: gain {better:.4g} "
            f"< {c.min_improvement:g}"
        )
    if c.min_relative_improvement is not None:
        relative = better / abs(champion) if champion else (1.0 if better > 0 else 0.0)
        if relative < c.min_relative_improvement:
            return (
                f"{c.metric} {value:.4g} vs champion {champion:.4g}: relative gain "
                f"{relative:.2%} < {c.min_relative_improvement:.2%}"
            )
    return None


def judge_one(
    c: Criterion, challenger: dict[str, float], champion: dict[str, float] | None
) -> Verdict:
    value = challenger.get(c.metric)
    best = None if champion is None else champion.get(c.metric)
    if value is None:
        return Verdict(c.metric, None, best, False, f"the challenger has no {c.metric}")
    failed = _threshold(c, value) or _margins(c, value, best)
    if failed is not None:
        return Verdict(c.metric, value, best, False, failed)
    versus = (
        "no champion"
        if champion is None
        else f"champion {best:.4g}"
        if best is not None
        else "champion lacks it"
    )
    return Verdict(c.metric, value, best, True, f"{c.metric} {value:.4g} ({versus})")


def judge(
    criteria: list[Criterion], challenger: dict[str, float], champion: dict[str, float] | None
) -> list[Verdict]:
    """Every criterion's verdict, in the policy's order."""
    return [judge_one(c, challenger, champion) for c in criteria]


def decision(verdicts: list[Verdict], rows: int, min_rows: int) -> tuple[bool, str]:
    """(promote?, why): every criterion passed on enough rows."""
    if rows < min_rows:
        return False, f"only {rows} labelled evaluation rows (the policy needs {min_rows})"
    failed = [v.reason for v in verdicts if not v.passed]
    if failed:
        return False, "; ".join(failed)
    return True, "every criterion passed"


@dataclass(frozen=True)
class ShadowCounts:
    """What the gateway counted for a shadow since its mirroring started."""

    mirrored: int
    agreed: int
    errors: int

    @classmethod
    def since(cls, now: dict[str, Any] | None, start: dict[str, Any] | None) -> "ShadowCounts":
        """The difference between two snapshots of the gateway's cumulative counts."""
        now, start = now or {}, start or {}
        return cls(*(int(now.get(k) or 0) - int(start.get(k) or 0)
                     for k in ("mirrored", "agreed", "errors")))  # fmt: skip

    @property
    def went_back(self) -> bool:
        """A counter fell: the gateway restarted and counts from zero again."""
        return min(self.mirrored, self.agreed, self.errors) < 0

    def as_doc(self) -> dict[str, Any]:
        return asdict(self)


def judge_shadow(policy: dict[str, Any], counts: ShadowCounts) -> list[Verdict]:
    """The shadow's verdicts: agreement with the champion's live predictions and error rate."""
    compared = counts.mirrored - counts.errors
    agreement = counts.agreed / compared if compared > 0 else 0.0
    error_rate = counts.errors / counts.mirrored if counts.mirrored else 0.0
    bar, limit = float(policy["min_agreement"]), float(policy["max_error_rate"])
    return [
        Verdict("shadow_agreement", agreement, None, agreement >= bar,
                f"shadow agreement {agreement:.2%} on {compared} requests "
                f"({'>=' if agreement >= bar else '<'} {bar:.2%})"),
        Verdict("shadow_error_rate", error_rate, None, error_rate <= limit,
                f"shadow error rate {error_rate:.2%} of {counts.mirrored} "
                f"({'<=' if error_rate <= limit else '>'} {limit:.2%})"),
    ]  # fmt: skip


def shadow_due(
    policy: dict[str, Any], counts: ShadowCounts, mirrored_s: float | None, waited_s: float
) -> str | None:
    """When the shadow period ends: `judge` (long and busy enough), `expired` (the timeout
    passed first), or None (go on)."""
    long_enough = mirrored_s is not None and mirrored_s >= policy["duration_s"]
    if long_enough and counts.mirrored >= policy["min_requests"]:
        return "judge"
    return "expired" if waited_s >= policy["timeout_s"] else None


def in_holdout(request_id: str, fraction: float) -> bool:
    """Whether a production row is reserved for evaluation (the same answer everywhere)."""
    digest = hashlib.sha256(request_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") < fraction * 2**64


def promotion_id(model_name: str, version: int) -> str:
    """The natural key of a version's promotion decision: one per version."""
    return f"{model_name}:{version}"

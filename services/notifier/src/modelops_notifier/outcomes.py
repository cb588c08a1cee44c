"""What one attempt means for its delivery: pure bookkeeping on the delivery document."""

from dataclasses import dataclass
from datetime import datetime

from modelops_notifier.channels import AttemptResult
from modelops_notifier.domain import Outcome, Status, classify, due_at, next_delay
from modelops_notifier.ports import Doc
from modelops_notifier.settings import DeliverySettings

LEASE_FIELDS = ("lease_owner", "lease_token", "lease_until")


@dataclass(frozen=True)
class Verdict:
    """A final status, or a retry after `delay` seconds; `gone` disables the subscription."""

    outcome: Outcome
    attempt: Doc
    status: Status | None = None
    delay: float | None = None

    @property
    def gone(self) -> bool:
        return self.outcome is Outcome.GONE


def attempt_record(result: AttemptResult, at: datetime, outcome: Outcome) -> Doc:
    return {
        "at": at,
        "status_code": result.status_code,
        "latency_ms": round(result.latency_ms, 2),
        "response": result.response,
        "error": result.error,
        "outcome": str(outcome),
    }


def judge(doc: Doc, result: AttemptResult, at: datetime, settings: DeliverySettings) -> Verdict:
    """2xx delivered; retryable failures wait for the schedule (or Retry-After); else dead."""
    outcome = Outcome.FAILED if result.refused else classify(result.status_code)
    attempt = attempt_record(result, at, outcome)
    if outcome is Outcome.RETRY:
        made = doc.get("series_attempts", 0) + 1
        delay = (
            None
            if made >= doc.get("max_attempts", 1 << 30)
            else next_delay(
                made,
                settings.retry_schedule_s,
                jitter=settings.jitter,
                retry_after=result.retry_after,
                max_retry_after=settings.max_retry_after_s,
            )
        )
        if delay is not None:
            return Verdict(outcome, attempt, delay=delay)
    status = Status.DELIVERED if outcome is Outcome.DELIVERED else Status.DEAD_LETTER
    return Verdict(outcome, attempt, status=status)


def add_attempt(doc: Doc, attempt: Doc) -> None:
    doc.setdefault("attempts", []).append(attempt)
    doc["attempt_count"] = doc.get("attempt_count", 0) + 1
    doc["series_attempts"] = doc.get("series_attempts", 0) + 1
    doc["last_status_code"] = attempt["status_code"]
    doc["last_error"] = attempt["error"]


def retry_fields(attempt: Doc, at: datetime, delay: float) -> Doc:
    """What a delivery waiting for its next attempt records."""
    return {
        "next_attempt_at": due_at(at, delay),
        "last_status_code": attempt["status_code"],
        "last_error": attempt["error"],
    }


def finish(doc: Doc, status: Status, at: datetime, error: str | None) -> None:
    doc.update(status=str(status), completed_at=at)
    if status is Status.DEAD_LETTER:
        doc["dead_letter_reason"] = error
    for key in LEASE_FIELDS:
        doc.pop(key, None)

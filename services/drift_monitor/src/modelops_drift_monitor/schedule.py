"""When a scheduled monitor is due: a fixed interval or a cron expression, evaluated in UTC.

Cron syntax is croniter's: 5 fields (minute hour day-of-month month day-of-week), or 6 with
seconds as the sixth. A monitor that was never run is due at once on an interval, and at the
first cron time after its creation; missed times (the service was down) coalesce into one run.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter  # type: ignore[import-untyped]  # no type information shipped

CRON_FIELDS = (5, 6)


def valid_cron(expression: str) -> str:
    """The expression, normalised; ValueError when croniter cannot read it."""
    normal = " ".join(expression.split())
    if len(normal.split()) not in CRON_FIELDS or not croniter.is_valid(normal):
        raise ValueError(
            "schedule_cron must be a cron expression: 5 fields (minute hour day month weekday) "
            "or 6 (plus seconds)"
        )
    return normal


def next_cron(expression: str, after: datetime) -> datetime:
    """The first time strictly after `after` that the expression names (UTC)."""
    nxt: datetime = croniter(expression, utc(after)).get_next(datetime)
    return nxt


def utc(at: datetime) -> datetime:
    """The time in UTC (a naive one, as stored, is UTC)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def next_run(monitor: dict[str, Any]) -> datetime | None:
    """When a monitor document is next due; None when it has no schedule."""
    interval, cron = monitor.get("schedule_interval_s"), monitor.get("schedule_cron")
    last, created = monitor.get("last_run_at"), monitor.get("created_at")
    if interval:
        if last is None:
            return utc(created) if created is not None else datetime.min.replace(tzinfo=UTC)
        return utc(last) + timedelta(seconds=interval)
    if cron:
        base = last if last is not None else created
        return next_cron(cron, base if base is not None else datetime.now(UTC))
    return None


def is_due(monitor: dict[str, Any], now: datetime) -> bool:
    """Whether the monitor's next scheduled time has come."""
    at = next_run(monitor)
    return at is not None and at <= utc(now)

"""Interval and cron schedules with an injected clock: when a monitor is due, and the sweep."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from modelops_drift_monitor import handlers
from modelops_drift_monitor.domain import CreateMonitor
from modelops_drift_monitor.schedule import is_due, next_run, valid_cron

T0 = datetime(2026, 3, 2, 12, 1, 30, tzinfo=UTC)  # a Monday
BASE = {"name": "m", "model_name": "churn", "baseline": {"dataset": "train"}}


def monitor(**fields: Any) -> dict[str, Any]:
    return {"_id": fields.pop("_id", "m"), "created_at": T0, "last_run_at": None, **fields}


def test_cron_expressions_are_validated_and_exclusive_with_an_interval() -> None:
    assert valid_cron("*/5  * * * *") == "*/5 * * * *"
    assert valid_cron("0 6 * * 1-5 */10") == "0 6 * * 1-5 */10"  # 6th field: seconds
    for bad in ("every day", "61 * * * *", "* * *", "0 0 1 1 * 0 2030"):
        with pytest.raises(ValueError, match="cron expression"):
            valid_cron(bad)
    assert CreateMonitor.model_validate({**BASE, "schedule_cron": "0 * * * *"}).schedule_cron
    with pytest.raises(ValidationError, match="not both"):
        CreateMonitor.model_validate(
            {**BASE, "schedule_cron": "0 * * * *", "schedule_interval_s": 60}
        )
    with pytest.raises(ValidationError, match="cron expression"):
        CreateMonitor.model_validate({**BASE, "schedule_cron": "often"})


def test_a_cron_monitor_is_due_at_its_first_time_after_creation_then_after_its_last_run() -> None:
    doc = monitor(schedule_cron="*/5 * * * *")
    assert next_run(doc) == datetime(2026, 3, 2, 12, 5, tzinfo=UTC)
    assert not is_due(doc, datetime(2026, 3, 2, 12, 4, 59, tzinfo=UTC))
    assert is_due(doc, datetime(2026, 3, 2, 12, 5, tzinfo=UTC))
    ran = monitor(schedule_cron="*/5 * * * *", last_run_at=datetime(2026, 3, 2, 12, 5, 0, 400_000))
    assert next_run(ran) == datetime(2026, 3, 2, 12, 10, tzinfo=UTC)  # naive times read as UTC
    late = monitor(schedule_cron="*/5 * * * *", last_run_at=T0 - timedelta(days=2))
    assert next_run(late) == T0 - timedelta(days=2) + timedelta(minutes=3, seconds=30)
    weekdays = monitor(schedule_cron="0 6 * * 1-5", created_at=datetime(2026, 3, 6, 7, tzinfo=UTC))
    assert next_run(weekdays) == datetime(2026, 3, 9, 6, tzinfo=UTC)  # Friday -> Monday


def test_an_interval_monitor_is_due_at_once_then_every_interval() -> None:
    assert is_due(monitor(schedule_interval_s=60), T0)
    ran = monitor(schedule_interval_s=60, last_run_at=T0)
    assert not is_due(ran, T0 + timedelta(seconds=59))
    assert is_due(ran, T0 + timedelta(seconds=60))
    assert next_run(monitor()) is None
    assert not is_due(monitor(), T0 + timedelta(days=365))


class FakeMonitors:
    """The monitors collection in a dict, with the same compare-and-set claim."""

    def __init__(self, *docs: dict[str, Any]) -> None:
        self.docs = {d["_id"]: d for d in docs}

    async def insert(self, doc: dict[str, Any]) -> None:
        self.docs[doc["_id"]] = doc

    async def get(self, monitor_id: str) -> dict[str, Any]:
        return self.docs[monitor_id]

    async def list(self, endpoint_name: str | None = None) -> list[dict[str, Any]]:
        return [dict(d) for d in self.docs.values()]

    async def set_last_run(self, monitor_id: str, at: datetime) -> None:
        self.docs[monitor_id]["last_run_at"] = at

    async def claim_run(self, monitor_id: str, previous: datetime | None, at: datetime) -> bool:
        if self.docs[monitor_id]["last_run_at"] != previous:
            return False
        self.docs[monitor_id]["last_run_at"] = at
        return True

    async def set_baseline(self, monitor_id: str, previous: int, fields: dict[str, Any]) -> bool:
        if self.docs[monitor_id].get("baseline_generation", 0) != previous:
            return False
        self.docs[monitor_id].update(fields)
        return True


async def test_a_sweep_runs_each_due_monitor_once_and_survives_a_failing_one() -> None:
    monitors = FakeMonitors(
        monitor(_id="cron", schedule_cron="*/5 * * * *"),
        monitor(_id="later", schedule_cron="0 0 1 1 *"),
        monitor(_id="every", schedule_interval_s=600),
        monitor(_id="broken", schedule_interval_s=600),
        monitor(_id="empty", schedule_cron="* * * * * */10"),
        monitor(_id="manual"),
    )
    ran: list[str] = []

    async def run(monitor_id: str) -> dict[str, Any] | None:
        ran.append(monitor_id)
        if monitor_id == "broken":
            raise RuntimeError("baseline gone")
        return None if monitor_id == "empty" else {"_id": "run"}

    at = datetime(2026, 3, 2, 12, 5, tzinfo=UTC)
    assert await handlers.run_due(monitors, at, run) == 3
    assert sorted(ran) == ["broken", "cron", "empty", "every"]
    ran.clear()  # the same instant again: everything due has been claimed
    assert await handlers.run_due(monitors, at, run) == 0
    assert ran == []
    assert await handlers.run_due(monitors, at + timedelta(seconds=10), run) == 1
    assert ran == ["empty"]  # an empty window waits for its next time, not every tick
    ran.clear()
    assert await handlers.run_due(monitors, at + timedelta(minutes=10), run) == 3
    assert sorted(ran) == ["broken", "cron", "empty", "every"]

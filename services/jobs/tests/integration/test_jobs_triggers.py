"""Event and cron triggers start runs: filtered, de-duplicated, cooled down, race-safe."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI

from modelops_contracts.events import DriftDetected, Event, RunStarted
from modelops_jobs import triggering
from modelops_testkit.probe import BusProbe

if TYPE_CHECKING:
    from conftest import Kit

pytestmark = pytest.mark.integration
Publish = Callable[[Event], Awaitable[None]]
SLEEP = "import os, time; time.sleep(float(os.environ.get('MODELOPS_PARAM_S', '2')))\n"


@pytest.fixture
def publish_event(jobs_app: FastAPI) -> Publish:
    """Publish on this test's bus (the app's publisher), as the drift monitor would."""
    publish: Publish = jobs_app.state.deps.events.publish
    return publish


def drift(endpoint: str) -> DriftDetected:
    return DriftDetected(
        monitor_id="m1", run_id="r1", model_name="churn", endpoint_name=endpoint, drift_share=0.5
    )


def on_drift(cooldown_s: int) -> list[dict[str, Any]]:
    return [
        {"event": "drift.detected", "filter": {"endpoint_name": "churn"}, "cooldown_s": cooldown_s}
    ]


async def decision_on(http: httpx.AsyncClient, name: str, event: Event) -> dict[str, Any]:
    """The job's trigger decision about `event`, once it was made."""
    async with asyncio.timeout(15):
        while True:
            last = (await http.get(f"/v1/jobs/{name}")).json().get("last_trigger") or {}
            if last.get("event_id") == str(event.event_id):
                return last
            await asyncio.sleep(0.05)


async def run_ids(http: httpx.AsyncClient, name: str) -> list[str]:
    items = (await http.get("/v1/runs", params={"job": name})).json()["items"]
    return [r["run_id"] for r in items]


async def test_a_drift_storm_starts_one_run_then_the_cooldown_holds(
    jobs: httpx.AsyncClient, kit: "Kit", bus_probe: BusProbe, publish_event: Publish
) -> None:
    await kit.define_job("retrain", SLEEP, triggers=on_drift(3600))
    await publish_event(drift("other"))  # filtered out
    first = drift("churn")
    await publish_event(first)
    started = await bus_probe.expect(
        RunStarted, lambda e: e.trigger_event_id == str(first.event_id), timeout=15
    )
    assert started.trigger == "drift.detected"
    second = drift("churn")
    await publish_event(second)
    skipped = await decision_on(jobs, "retrain", second)
    assert (skipped["started"], "queued or running" in skipped["reason"]) == (False, True)
    run = await kit.wait_state(started.run_id, "completed")
    assert run["trigger_event"] == {"event_type": "drift.detected", "event_id": str(first.event_id)}
    third = drift("churn")
    await publish_event(third)
    cooled = await decision_on(jobs, "retrain", third)
    assert (cooled["started"], "cooling down" in cooled["reason"]) == (False, True)
    assert await run_ids(jobs, "retrain") == [started.run_id]


async def test_without_cooldown_a_new_event_starts_a_run_and_a_redelivery_does_not(
    jobs: httpx.AsyncClient, kit: "Kit", bus_probe: BusProbe, publish_event: Publish
) -> None:
    await kit.define_job("retrain", SLEEP, parameters={"s": 0}, triggers=on_drift(0))
    first = drift("churn")
    await publish_event(first)
    one = await bus_probe.expect(RunStarted, lambda e: e.trigger_event_id == str(first.event_id))
    await kit.wait_state(one.run_id, "completed")
    await publish_event(first)  # the same event id again
    second = drift("churn")
    await publish_event(second)
    two = await bus_probe.expect(RunStarted, lambda e: e.trigger_event_id == str(second.event_id))
    await kit.wait_state(two.run_id, "completed")
    assert sorted(await run_ids(jobs, "retrain")) == sorted([one.run_id, two.run_id])


async def test_concurrent_and_late_deliveries_of_one_event_start_one_run(
    jobs_app: FastAPI, jobs: httpx.AsyncClient, kit: "Kit"
) -> None:
    await kit.define_job("retrain", SLEEP, parameters={"s": 0}, triggers=on_drift(0))
    deps, event = jobs_app.state.deps, drift("churn")
    await asyncio.gather(*(triggering.on_event(deps, event) for _ in range(8)))
    [run_id] = await run_ids(jobs, "retrain")
    await kit.wait_state(run_id, "completed")
    await triggering.on_event(deps, event)  # redelivered after the run ended
    assert await run_ids(jobs, "retrain") == [run_id]


async def test_a_cron_schedule_starts_runs_but_not_while_one_is_running(
    jobs: httpx.AsyncClient, kit: "Kit", bus_probe: BusProbe
) -> None:
    await kit.define_job("nightly", SLEEP, parameters={"s": 5}, schedule_cron="* * * * * *")
    started = await bus_probe.expect(RunStarted, lambda e: e.job_name == "nightly", timeout=15)
    assert started.trigger == "schedule"
    await asyncio.sleep(1.2)
    assert await run_ids(jobs, "nightly") == [started.run_id]


@pytest.mark.parametrize(
    "extra",
    [{"triggers": [{"event": "model.registered"}]}, {"schedule_cron": "every day"}],
)
async def test_unknown_trigger_events_and_bad_cron_are_refused(
    jobs: httpx.AsyncClient, extra: dict[str, Any]
) -> None:
    resp = await jobs.post("/v1/jobs", json={"name": "bad", "command": ["true"], **extra})
    assert resp.status_code == 400, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")

"""Cancelling runs, live logs, and what happens to runs when the jobs service goes away."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
import pytest
from asgi_lifespan import LifespanManager
from pymongo import AsyncMongoClient

from modelops_contracts.events import RunFailed, RunStarted
from modelops_jobs.app import create_app
from modelops_jobs.execution import STOPPED
from modelops_jobs.runner import RESTARTED
from modelops_jobs.settings import JobsSettings
from modelops_testkit.probe import BusProbe

if TYPE_CHECKING:
    from conftest import Kit

pytestmark = pytest.mark.integration

CHATTY = """
    import time
    print("started", flush=True)
    time.sleep(60)
"""


async def test_a_running_run_shows_its_live_log_and_can_be_cancelled(
    kit: "Kit", bus_probe: BusProbe
) -> None:
    await kit.define_job("long", CHATTY)
    run_id = await kit.start("long")
    await bus_probe.expect(RunStarted, lambda e: e.run_id == run_id, timeout=20)
    async with asyncio.timeout(20):
        while "started" not in (live := await kit.http.get(f"/v1/runs/{run_id}/logs")).text:
            await asyncio.sleep(0.05)
    assert live.headers["x-run-state"] == "running"
    resp = await kit.http.post(f"/v1/runs/{run_id}/cancel")
    assert resp.status_code == 202, resp.text
    failed = await bus_probe.expect(RunFailed, lambda e: e.run_id == run_id, timeout=20)
    assert (failed.cancelled, failed.reason) == (True, "cancelled")
    run = await kit.wait_state(run_id, "cancelled")
    assert run["ended_at"]
    again = await kit.http.post(f"/v1/runs/{run_id}/cancel")
    assert again.status_code == 409


async def test_a_run_left_running_by_a_dead_jobs_process_is_failed_on_startup(
    jobs_settings: JobsSettings, kit: "Kit", bus_probe: BusProbe
) -> None:
    """A process that crashed cannot beat: its run is failed, never pretended to resume."""
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    orphan = {
        "_id": "orphan",
        "run_id": "orphan",
        "job_name": "long",
        "state": "running",
        "created_at": long_ago,
        "heartbeat_at": long_ago,
    }
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(jobs_settings.mongo.url)
    try:
        await mongo[jobs_settings.mongo.database]["runs"].insert_one(orphan)
    finally:
        await mongo.close()
    failed = await bus_probe.expect(RunFailed, lambda e: e.run_id == "orphan", timeout=20)
    assert (failed.reason, failed.cancelled) == (RESTARTED, False)
    assert (await kit.run("orphan"))["state"] == "failed"


async def test_stopping_the_service_kills_its_runs_and_fails_them(
    jobs_settings: JobsSettings, kit: "Kit", bus_probe: BusProbe
) -> None:
    await kit.define_job("long", CHATTY)
    second = create_app(jobs_settings)
    transport = httpx.ASGITransport(app=second)
    async with (
        LifespanManager(second, startup_timeout=60, shutdown_timeout=60),
        httpx.AsyncClient(transport=transport, base_url="http://t") as http,
    ):
        run_id = await kit.using(http).start("long")
        await bus_probe.expect(RunStarted, lambda e: e.run_id == run_id, timeout=20)
    run = await kit.wait_state(run_id, "failed")
    assert run["reason"] == STOPPED
    failed = await bus_probe.expect(RunFailed, lambda e: e.run_id == run_id, timeout=20)
    assert failed.reason == STOPPED

"""`Wiring.background`: service loops run once wired and stop before the adapters close."""

import asyncio
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from structlog.testing import capture_logs

from modelops_servicekit.runtime import Runtime, Wiring, create_service_app
from modelops_servicekit.settings import ServiceSettings

pytestmark = pytest.mark.integration


class LoopSettings(ServiceSettings):
    service: ClassVar[str] = "jobs"
    default_port: ClassVar[int] = 8108


async def test_background_loops_run_after_wiring_and_are_cancelled_before_shutdown(
    service_settings: Callable[..., Any],
) -> None:
    settings: LoopSettings = service_settings(LoopSettings, "jobs")
    seen: list[str] = []
    ticking = asyncio.Event()

    async def wire(runtime: Runtime, app: FastAPI) -> Wiring:
        seen.append("wired")

        async def tick() -> None:
            seen.append("started")
            try:
                while True:
                    await runtime.db.command("ping")
                    ticking.set()
                    await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                await runtime.db.command("ping")  # the database is still open when cancelled
                seen.append("cancelled")
                raise

        async def crash() -> None:
            raise RuntimeError("boom")

        return Wiring(background=[tick, crash])

    app = create_service_app(settings, wire=wire)
    with capture_logs() as logs:
        async with LifespanManager(app, startup_timeout=30):
            await asyncio.wait_for(ticking.wait(), 10)
            assert await app.state.runtime.broker.ping(timeout=1.0)  # consumers already started

    assert seen == ["wired", "started", "cancelled"]
    failed = [e for e in logs if e["event"] == "background_task_failed"]
    assert [(e["task"], e["error"]) for e in failed] == [("crash", "RuntimeError('boom')")]

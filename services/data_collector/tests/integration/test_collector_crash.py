"""A collector killed with SIGKILL mid-stream loses nothing: every request id is read back once."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from modelops_contracts.events import PredictionLogged

pytestmark = pytest.mark.integration
Publish = Callable[[list[PredictionLogged]], Awaitable[None]]
N = 3000


async def test_kill_9_then_restart_reads_back_exactly_n_unique_requests(
    fleet: Any, publish: Publish, make_prediction: Callable[..., PredictionLogged]
) -> None:
    fleet.extra_env.update(
        {
            "MODELOPS_FLUSH_ROWS": "400",
            "MODELOPS_FLUSH_INTERVAL_S": "0.5",
            "MODELOPS_ACK_WAIT_S": "5",
        }
    )
    events = [make_prediction(i, endpoint="crash") for i in range(N)]
    (first,) = fleet.start("data_collector")
    await publish(events[: N // 2])
    await asyncio.sleep(0.3)  # some partitions stored, some buffered and unacknowledged
    first.kill()
    await publish(events[N // 2 :])
    (second,) = fleet.start("data_collector")
    start = events[0].occurred_at - timedelta(minutes=1)
    params = {
        "endpoint": "crash",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "format": "json",
        "page_size": str(N * 2),
    }
    body: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=second.url, timeout=30) as client:
        for _ in range(150):
            body = (await client.get("/v1/collected", params=params)).json()
            if body["total"] >= N:
                break
            await asyncio.sleep(0.2)
    ids = [r["request_id"] for r in body["rows"]]
    assert len(ids) == N
    assert set(ids) == {e.request_id for e in events}

"""A collector killed with SIGKILL mid-stream loses nothing: every request id is read back once."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from modelops_contracts.events import LoggedRequest, PredictionLogged

pytestmark = pytest.mark.integration
Publish = Callable[[list[PredictionLogged]], Awaitable[None]]
N = 3000


async def _read_back(url: str, params: dict[str, str], want: int) -> dict[str, Any]:
    body: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for _ in range(150):
            body = (await client.get("/v1/collected", params=params)).json()
            if body["total"] >= want:
                break
            await asyncio.sleep(0.2)
    return body


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
    body = await _read_back(second.url, params, N)
    ids = [r["request_id"] for r in body["rows"]]
    assert len(ids) == N
    assert set(ids) == {e.request_id for e in events}


def _batches(make: Callable[..., PredictionLogged], n: int, size: int) -> list[PredictionLogged]:
    """n requests in messages of `size`, a millisecond apart from hh:59:59 (across the hour)."""
    at = make(0).occurred_at.replace(minute=59, second=59)
    out = []
    for first in range(0, n, size):
        head, *rest = [make(i, at + timedelta(milliseconds=i), endpoint="batched")
                       for i in range(first, min(n, first + size))]  # fmt: skip
        fields = set(LoggedRequest.model_fields)
        more = [LoggedRequest(**p.model_dump(include=fields)) for p in rest]
        out.append(head.model_copy(update={"more": more}))
    return out


async def test_batched_messages_across_an_hour_survive_kill_9_each_request_read_once(
    fleet: Any, publish: Publish, make_prediction: Callable[..., PredictionLogged]
) -> None:
    env = {"FLUSH_ROWS": "700", "FLUSH_INTERVAL_S": "0.5", "ACK_WAIT_S": "5"}
    fleet.extra_env.update({f"MODELOPS_{k}": v for k, v in env.items()})
    messages = _batches(make_prediction, N * 2, 100)  # 6000 requests in 60 messages
    (first,) = fleet.start("data_collector")
    await publish(messages[:30])
    await asyncio.sleep(0.3)
    first.kill()
    await publish(messages[30:])
    (second,) = fleet.start("data_collector")
    start = messages[0].occurred_at.replace(minute=0, second=0)
    params = {"endpoint": "batched", "start": start.isoformat(),
              "end": (start + timedelta(hours=2)).isoformat(), "format": "json",
              "page_size": str(N * 4)}  # fmt: skip
    body = await _read_back(second.url, params, N * 2)
    ids = [r["request_id"] for r in body["rows"]]
    assert len(ids) == N * 2
    assert set(ids) == {f"req-{i}" for i in range(N * 2)}
    hours = {r["ts"][11:13] for r in body["rows"]}
    assert len(hours) == 2  # the batches were split across two hour partitions

"""An hour partition closes after its end + grace: one CollectionWindowClosed, via the outbox."""

from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest

from modelops_contracts.events import CollectionWindowClosed, PredictionLogged
from modelops_testkit.probe import BusProbe

pytestmark = pytest.mark.integration
Publish = Callable[[list[PredictionLogged]], Awaitable[None]]


async def test_a_past_hour_closes_once_with_its_unique_row_count(
    collector: httpx.AsyncClient,
    publish: Publish,
    make_prediction: Callable[..., PredictionLogged],
    bus_probe: BusProbe,
) -> None:
    events = [make_prediction(i, endpoint="fraud") for i in range(25)]
    await publish([*events, events[0].model_copy(update={"event_id": events[1].event_id})])
    closed = await bus_probe.expect(
        CollectionWindowClosed, where=lambda e: e.endpoint_name == "fraud", timeout=20
    )
    hour = events[0].occurred_at.replace(minute=0, second=0, microsecond=0)
    assert (closed.window_start, closed.window_end - hour) == (hour, timedelta(hours=1))
    assert (closed.row_count, closed.model_version, closed.model_name) == (25, 3, "churn")
    assert closed.data_uri.endswith(
        f"collected/endpoint=fraud/model_version=3/date={hour:%Y-%m-%d}/hour={hour:%H}/"
    )
    params = {
        "endpoint": "fraud",
        "start": closed.window_start.isoformat(),
        "end": closed.window_end.isoformat(),
        "format": "json",
    }
    assert (await collector.get("/v1/collected", params=params)).json()["total"] == 25
    await publish([make_prediction(99, endpoint="other")])  # a later flush closes no window twice
    await bus_probe.expect(
        CollectionWindowClosed, where=lambda e: e.endpoint_name == "other", timeout=20
    )
    assert (
        len(bus_probe.of(CollectionWindowClosed, where=lambda e: e.endpoint_name == "fraud")) == 1
    )

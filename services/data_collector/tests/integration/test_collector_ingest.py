"""Predictions on the bus end up as Parquet per partition, read back once per request id."""

import asyncio
import io
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pyarrow.parquet as pq  # type: ignore[import-untyped]  # no type information shipped
import pytest

from modelops_contracts.events import MessageDeadLettered, PredictionLogged
from modelops_servicekit.bus import Bus, make_broker
from modelops_servicekit.objects import MinioObjectStore
from modelops_servicekit.settings import ObjectStoreSettings
from modelops_testkit.probe import BusProbe

pytestmark = pytest.mark.integration
Publish = Callable[[list[PredictionLogged]], Awaitable[None]]
MakePrediction = Callable[..., PredictionLogged]


async def _rows(client: httpx.AsyncClient, params: dict[str, str], want: int) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _ in range(100):
        resp = await client.get("/v1/collected", params=params | {"format": "json"})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        if body["total"] >= want:
            return body
        await asyncio.sleep(0.2)
    return body


async def test_predictions_are_stored_per_partition_and_read_back(
    collector: httpx.AsyncClient,
    publish: Publish,
    make_prediction: MakePrediction,
    collector_settings: Any,
) -> None:
    first = [make_prediction(i) for i in range(30)]
    later = make_prediction(100, at=first[0].occurred_at + timedelta(hours=1))
    other = make_prediction(
        200, model_version="4", inputs=[[1.0, 2.0]], outputs={"predictions": [0.7]}
    )
    await publish([*first, later, other, first[0]])  # first[0] again: a duplicate request id
    start = first[0].occurred_at - timedelta(minutes=5)
    params = {
        "endpoint": "churn",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=3)).isoformat(),
    }

    body = await _rows(collector, params, 32)
    assert body["total"] == 32  # the duplicate is read back once
    row = next(r for r in body["rows"] if r["request_id"] == "req-3")
    assert (row["age"], row["plan"], row["prediction"]) == (23, "gold", 1)
    assert (row["inputs"], row["model_version"]) == ({"age": 23, "plan": "gold"}, "3")
    v4 = await _rows(collector, params | {"model_version": "4"}, 1)
    assert (v4["total"], v4["rows"][0]["f1"], v4["rows"][0]["prediction"]) == (1, 2.0, 0.7)

    resp = await collector.get("/v1/collected", params=params | {"model_version": "3"})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(resp.content))
    assert table.num_rows == 31
    assert {"request_id", "ts", "age", "plan", "prediction", "label"} <= set(table.schema.names)
    page = await collector.get(
        "/v1/collected", params=params | {"format": "json", "page_size": "10", "page": "4"}
    )
    assert len(page.json()["rows"]) == 2
    assert page.json()["next_page"] is None

    store = MinioObjectStore(ObjectStoreSettings(**collector_settings.objects.model_dump()))
    keys = await store.list("collected/")
    hour = f"{first[0].occurred_at:%H}"
    day = f"{first[0].occurred_at:%Y-%m-%d}"
    prefix = f"collected/endpoint=churn/model_version=3/date={day}/hour={hour}/"
    assert any(k.startswith(prefix) for k in keys), keys
    empty = await collector.get("/v1/collected", params={"endpoint": "nobody"})
    assert empty.status_code == 204


async def test_an_unreadable_prediction_is_dead_lettered_and_the_next_one_stored(
    collector: httpx.AsyncClient,
    publish: Publish,
    make_prediction: MakePrediction,
    streams: Bus,
    bus_probe: BusProbe,
) -> None:
    broker = make_broker(streams.settings, service="test")
    await broker.connect()
    await broker.publish(
        b"{not a prediction",
        subject=streams.subject(PredictionLogged),
        stream=streams.predictions_stream,
    )
    await broker.stop()
    good = make_prediction(7)
    await publish([good])

    letter = await bus_probe.expect(MessageDeadLettered, timeout=30)
    assert letter.original_subject == PredictionLogged.subject
    assert "{not a prediction" in letter.payload
    start = good.occurred_at - timedelta(minutes=5)
    params = {"endpoint": "churn", "start": start.isoformat(),
              "end": (start + timedelta(hours=1)).isoformat()}  # fmt: skip
    assert (await _rows(collector, params, 1))["total"] == 1

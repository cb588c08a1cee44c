"""Feedback by request id (JSON object, JSON list, CSV), joined into collected windows."""

import asyncio
import io
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pyarrow.parquet as pq  # type: ignore[import-untyped]  # no type information shipped
import pytest
from pymongo import AsyncMongoClient

from modelops_contracts.events import PredictionLogged
from modelops_data_collector.settings import DataCollectorSettings
from modelops_servicekit.mongo import Document

pytestmark = pytest.mark.integration
Publish = Callable[[list[PredictionLogged]], Awaitable[None]]
CSV = {"content-type": "text/csv"}


async def _labels(collector: httpx.AsyncClient, params: dict[str, str]) -> dict[str, object]:
    resp = httpx.Response(204)
    for _ in range(100):
        resp = await collector.get("/v1/collected", params=params)
        if resp.status_code == 200 and pq.read_table(io.BytesIO(resp.content)).num_rows == 10:
            break
        await asyncio.sleep(0.2)
    table = pq.read_table(io.BytesIO(resp.content), columns=["request_id", "label"])
    return dict(zip(table["request_id"].to_pylist(), table["label"].to_pylist(), strict=True))


async def test_labels_are_upserted_and_joined_by_request_id(
    collector: httpx.AsyncClient, publish: Publish, make_prediction: Callable[..., PredictionLogged]
) -> None:
    events = [make_prediction(i, endpoint="loans") for i in range(10)]
    await publish(events)
    one = await collector.post("/v1/feedback", json={"request_id": "req-0", "label": 1})
    assert one.status_code == 200
    assert one.json()["received"] == 1
    rows = [{"request_id": f"req-{i}", "label": i % 2} for i in (1, 2)]
    assert (await collector.post("/v1/feedback", json=rows)).json()["received"] == 2
    csv = "request_id,label\nreq-3,yes\nreq-4,no\n"
    got = await collector.post("/v1/feedback", content=csv, headers=CSV, params={"endpoint": "x"})
    assert got.json() == {"received": 2, "inserted": 2, "updated": 0}
    again = await collector.post("/v1/feedback", content=csv, headers=CSV)
    assert again.json()["inserted"] == 0  # idempotent: same ids, no new documents
    bad = await collector.post("/v1/feedback", json=[{"label": 1}])
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"

    start = events[0].occurred_at - timedelta(minutes=1)
    end = start + timedelta(hours=1)
    params = {"endpoint": "loans", "start": start.isoformat(), "end": end.isoformat()}
    labels = await _labels(collector, params)
    assert (labels["req-3"], labels["req-4"], labels["req-9"]) == ("yes", "no", None)
    assert labels["req-0"] == "1"  # a column of mixed label types is text
    changed = await collector.post("/v1/feedback", json={"request_id": "req-3", "label": "maybe"})
    assert changed.json()["updated"] == 1
    page = (await collector.get("/v1/collected", params=params | {"format": "json"})).json()
    assert {r["request_id"]: r["label"] for r in page["rows"]}["req-3"] == "maybe"


async def test_a_100k_row_csv_upload_is_accepted(
    collector: httpx.AsyncClient, collector_settings: DataCollectorSettings
) -> None:
    rows = "\n".join(f"r{i},{i % 3}" for i in range(100_000))
    resp = await collector.post("/v1/feedback", content=f"request_id,label\n{rows}\n", headers=CSV)
    assert resp.status_code == 200
    assert resp.json()["inserted"] == 100_000
    too_many = "\n".join(f"r{i},1" for i in range(100_001))
    resp = await collector.post("/v1/feedback", content=f"request_id,x\n{too_many}\n", headers=CSV)
    assert resp.status_code == 400
    client: AsyncMongoClient[Document] = AsyncMongoClient(collector_settings.mongo.url)
    await client.drop_database(collector_settings.mongo.database)  # a big database lists slowly
    await client.close()


async def test_a_re_upload_correcting_hundreds_of_labels_updates_each(
    collector: httpx.AsyncClient,
) -> None:
    first = [{"request_id": f"c{i}", "label": 0} for i in range(300)]
    assert (await collector.post("/v1/feedback", json=first)).json()["inserted"] == 300
    corrected = [{"request_id": f"c{i}", "label": 1} for i in range(300)]
    again = await collector.post("/v1/feedback", json=corrected)
    assert again.json() == {"received": 300, "inserted": 0, "updated": 300}

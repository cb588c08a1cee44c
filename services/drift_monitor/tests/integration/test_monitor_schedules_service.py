"""Scheduled monitors on the real stack: a cron monitor runs when due, others wait; plots served.

The data collector is a stub HTTP server (stdlib) that serves `/v1/collected` as Parquet: the
baseline window (2020) unshifted, every later window with feature `x` moved by one std.
"""

import asyncio
import io
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]  # no type information shipped
import pyarrow.parquet as pq  # type: ignore[import-untyped]  # no type information shipped
import pytest
from asgi_lifespan import LifespanManager

from modelops_drift_monitor.app import create_app
from modelops_drift_monitor.settings import DriftMonitorSettings

pytestmark = pytest.mark.integration


def parquet(shift: float, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    table = pa.table({"x": rng.normal(shift, 1, 400), "y": rng.normal(0, 1, 400)})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


@pytest.fixture
def collector() -> Iterator[str]:
    baseline, current = parquet(0.0, 1), parquet(1.0, 2)

    class Collected(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlparse(self.path).query)
            body = baseline if query["start"][0].startswith("2020") else current
            self.send_response(200)
            self.send_header("content-type", "application/vnd.apache.parquet")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collected)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
async def api(
    service_settings: Callable[..., Any], collector: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings: DriftMonitorSettings = service_settings(
        DriftMonitorSettings, "drift_monitor", collector_url=collector, schedule_tick_s=0.2,
        evidently_sample_rows=0, cache_dir=tmp_path / "cache",
    )  # fmt: skip
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        LifespanManager(app, startup_timeout=60),
        httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60) as http,
    ):
        yield http


def spec(name: str, **schedule: Any) -> dict[str, Any]:
    return {
        "name": name, "model_name": "m", "endpoint_name": "ep", "on_window_closed": False,
        "baseline": {"window_start": "2020-01-01T00:00:00Z", "window_end": "2020-01-02T00:00:00Z"},
        "window_s": 600, **schedule,
    }  # fmt: skip


async def create(http: httpx.AsyncClient, name: str, **schedule: Any) -> str:
    resp = await http.post("/v1/monitors", json=spec(name, **schedule))
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


async def runs_of(http: httpx.AsyncClient, monitor_id: str) -> list[dict[str, Any]]:
    resp = await http.get(f"/v1/monitors/{monitor_id}/runs")
    assert resp.status_code == 200, resp.text
    runs: list[dict[str, Any]] = resp.json()
    return runs


async def test_a_cron_monitor_runs_when_due_and_its_plots_are_served(
    api: httpx.AsyncClient,
) -> None:
    every_second = await create(api, "cron", schedule_cron="* * * * * *")
    yearly = await create(api, "yearly", schedule_cron="0 0 1 1 *")
    hourly = await create(api, "hourly", schedule_interval_s=3600)
    invalid = await api.post("/v1/monitors", json=spec("x", schedule_cron="every day"))
    assert invalid.status_code == 422
    assert "cron expression" in invalid.text

    async with asyncio.timeout(60):
        while len(runs := await runs_of(api, every_second)) < 2:
            await asyncio.sleep(0.2)
    assert {r["trigger"] for r in runs} == {"schedule"}
    assert all(r["drifted_features"] == ["x"] for r in runs)
    assert runs[0]["started_at"] > runs[1]["started_at"]  # newest first, one per due second
    assert await runs_of(api, yearly) == []  # not due before next January
    assert [r["trigger"] for r in await runs_of(api, hourly)] == ["schedule"]  # once, at once

    run_id, base = runs[0]["id"], f"/v1/monitors/{every_second}"
    page = await api.get(f"{base}/runs/{run_id}/plots/x")
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "Plotly.newPlot" in page.text
    figure = (await api.get(f"{base}/runs/{run_id}/plots/x", params={"format": "json"})).json()
    baseline, current = figure["data"]
    assert (baseline["name"], current["name"]) == ("baseline", "current")
    centers = np.asarray(baseline["x"])
    moved = float(np.dot(centers, current["y"]) - np.dot(centers, baseline["y"]))
    assert 0.7 < moved < 1.3  # the current window sits one std to the right
    history = (await api.get(f"{base}/plots/x", params={"format": "json"})).json()
    assert len(history["data"][0]["y"]) >= 2
    assert history["data"][1]["name"] == "threshold"
    assert (await api.get(f"{base}/plots/y")).status_code == 200
    missing = await api.get(f"{base}/runs/{run_id}/plots/nope")
    assert missing.status_code == 404
    assert "checked" in missing.json()["detail"]

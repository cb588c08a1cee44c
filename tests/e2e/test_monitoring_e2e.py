"""Production monitoring end to end: every service a real process on the real stack.

scikit-learn's bundled breast-cancer data trains a scaler + logistic regression, converted to
ONNX and registered with its training data (features, label, the model's predictions). The
registered version is deployed behind the gateway (a real model server process) with data
collection at a 0.5 sampling rate. In-distribution traffic is the training rows themselves, each
sent once in a seeded order; shifted traffic adds one standard deviation to SHIFTED, three named
features the model barely uses (so its predictions, also watched, keep their distribution).
"""

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnx
import pandas as pd  # type: ignore[import-untyped]  # no type information shipped
import pytest
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from typer.testing import CliRunner

from modelops_client.cli import app
from modelops_client.config import ClientSettings
from modelops_client.registry import RegistryClient
from modelops_contracts.events import DriftDetected, PerformanceDegraded
from modelops_testkit.probe import BusProbe
from modelops_testkit.processes import ServiceFleet, ServiceProcess

pytestmark = pytest.mark.e2e
SHIFTED = ["mean radius", "mean smoothness", "mean symmetry"]
RATE = 0.5
SERVICES = ("registry", "deployer", "scoring_gateway", "data_collector", "drift_monitor")


def train() -> tuple[pd.DataFrame, pd.Series, Pipeline]:
    data = load_breast_cancer(as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, random_state=0))
    model.fit(data.data, data.target)
    return data.data, data.target, model


def model_folder(folder: Path, x: pd.DataFrame, model: Pipeline) -> Path:
    """model.onnx (label output only: one scalar per row) + modelserver.json naming the columns."""
    folder.mkdir(parents=True)
    onx = to_onnx(model, x.to_numpy(np.float32)[:1], options={"zipmap": False})
    while len(onx.graph.output) > 1:  # drop the probabilities: answers are one label
        onx.graph.output.pop()
    onnx.save(onx, str(folder / "model.onnx"))
    spec = {"name": "X", "datatype": "FP32", "shape": [-1, x.shape[1]], "columns": list(x)}
    meta = {"name": "cancer", "version": "1", "schema": {"inputs": [spec]}}
    (folder / "modelserver.json").write_text(json.dumps(meta))
    return folder


@dataclass
class Urls:
    registry: str
    deployer: str
    gateway: str
    collector: str
    monitor: str


@pytest.fixture
def platform(fleet: ServiceFleet, tmp_path: Path) -> Iterator[Urls]:
    fleet.extra_env.update({
        "MODELOPS_RECONCILE_INTERVAL_S": "0.3", "MODELOPS_STATE_DIR": str(tmp_path / "replicas"),
        "MODELOPS_FLUSH_INTERVAL_S": "0.5", "MODELOPS_ACK_WAIT_S": "3",  # collector
        "MODELOPS_SCHEDULE_TICK_S": "0.5", "MODELOPS_CACHE_DIR": str(tmp_path / "cache"),
        "MODELOPS_EVIDENTLY_SAMPLE_ROWS": "0",  # Evidently's HTML: its own integration test
    })  # fmt: skip
    fleet.start(*SERVICES)
    s = {name: fleet.running[name].url for name in SERVICES}
    yield Urls(*s.values())
    fleet.running["deployer"].stop()  # no replica is started from here on
    for proc in Path("/proc").iterdir():  # the model servers it started from our folders
        with contextlib.suppress(OSError, ValueError):
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            if str(tmp_path) in cmdline and "modelops_modelserver" in cmdline:
                os.kill(int(proc.name), signal.SIGKILL)


def deploy(urls: Urls, folder: Path, x: pd.DataFrame, y: pd.Series, model: Pipeline) -> None:
    """Register model + training data, download the version, deploy it with collection on."""
    with RegistryClient(ClientSettings(registry_url=urls.registry)) as registry:
        version = registry.register_model("cancer", model_folder(folder / "src", x, model))
        train = x.assign(label=y, prediction=model.predict(x))
        train.to_parquet(folder / "train.parquet", index=False)
        registry.register_dataset("cancer-train", folder / "train.parquet")
        served = registry.download_model(f"cancer:{version.version}", folder / "served")
    with httpx.Client(base_url=urls.deployer, timeout=30) as api:
        r = api.post("/v1/endpoints", json={"name": "cancer", "auth_mode": "none"})
        assert r.status_code == 201, r.text
        body = {"name": "blue", "endpoint": "cancer", "model": f"cancer:{version.version}",
                "model_dir": str(served), "target": "process", "cpu": 0.2, "memory_mb": 256,
                "max_concurrency": 16, "data_collection": True, "sample_rate": RATE}  # fmt: skip
        r = api.post("/v1/deployments", json=body)
        assert r.status_code == 201, r.text


class Traffic:
    """Scoring requests through the gateway, one row each, with our own request ids."""

    def __init__(self, urls: Urls, model: Pipeline) -> None:
        self.gateway = httpx.AsyncClient(base_url=urls.gateway, timeout=30)
        self.stats_url = f"{urls.gateway}/v1/stats"
        self.model = model
        self.disagreements = 0  # ONNX (float32) vs scikit-learn (float64) on borderline rows

    async def ready(self, row: dict[str, float]) -> None:
        async with asyncio.timeout(60):
            while (await self.score("warm-up", row)).status_code != 200:
                await asyncio.sleep(0.2)

    async def score(self, rid: str, row: dict[str, float]) -> httpx.Response:
        return await self.gateway.post(
            "/endpoints/cancer/score", json={"data": [row]}, headers={"x-request-id": rid}
        )

    async def send(self, prefix: str, frame: pd.DataFrame, start: int, stop: int) -> None:
        expected = self.model.predict(frame.iloc[start:stop])
        gate = asyncio.Semaphore(16)

        async def one(i: int) -> None:
            async with gate:
                r = await self.score(f"{prefix}-{i}", frame.iloc[i].to_dict())
            assert r.status_code == 200, r.text
            self.disagreements += r.json() != [expected[i - start]]

        await asyncio.gather(*(one(i) for i in range(start, stop)))
        await asyncio.sleep(0.3)  # the gateway stamps a prediction just after answering it

    async def published(self) -> int:
        """Predictions the gateway has published, once its buffer has drained."""
        last = -1
        while True:
            predictions = (await self.gateway.get(self.stats_url)).json()["predictions"]
            assert predictions["dropped"] == 0
            if predictions["pending"] == 0 and predictions["published"] == last:
                return last
            last = predictions["published"]
            await asyncio.sleep(0.5)


async def collected(urls: Urls, start: datetime, end: datetime, expected: int) -> int:
    """Rows collected in [start, end) (one per request id), awaited up to `expected`."""
    params = {"endpoint": "cancer", "start": start.isoformat(), "end": end.isoformat(),
              "format": "json", "page_size": "1"}  # fmt: skip
    async with httpx.AsyncClient(base_url=urls.collector, timeout=30) as http:
        deadline, total = time.monotonic() + 60, -1
        while time.monotonic() < deadline:
            total = int((await http.get("/v1/collected", params=params)).json()["total"])
            if total >= expected:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.5)  # a duplicate or a late row would show up now
        return int((await http.get("/v1/collected", params=params)).json()["total"])


def cli(args: list[str], urls: Urls) -> str:
    """`modelops ...` against the running drift monitor; its output."""
    result = CliRunner().invoke(app, args, env={"MODELOPS_MONITOR_URL": urls.monitor})
    assert result.exit_code == 0, result.output
    return result.output


def restart(service: ServiceProcess) -> None:
    service.start()
    service.wait_ready()


async def run(monitor: httpx.AsyncClient, mid: str, window: tuple[datetime, datetime]) -> Any:
    body = {"window_start": window[0].isoformat(), "window_end": window[1].isoformat()}
    resp = await monitor.post(f"/v1/monitors/{mid}/runs", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


@pytest.mark.timeout(300)
async def test_collected_traffic_is_monitored_for_drift_and_performance(
    platform: Urls, fleet: ServiceFleet, bus_probe: BusProbe, tmp_path: Path
) -> None:
    x, y, model = train()
    deploy(platform, tmp_path, x, y, model)
    traffic = Traffic(platform, model)
    await traffic.ready(x.iloc[0].to_dict())
    before = await traffic.published()
    n = len(x)

    # In distribution; the collector is killed (SIGKILL) mid-stream and restarted under load.
    order = np.random.default_rng(1).permutation(n)
    calm = x.iloc[order].reset_index(drop=True)
    labels = [int(v) for v in y.iloc[order]]
    t0 = datetime.now(UTC)
    await traffic.send("a", calm, 0, 200)
    fleet.running["data_collector"].kill()
    await traffic.send("a", calm, 200, 400)
    back = asyncio.create_task(asyncio.to_thread(restart, fleet.running["data_collector"]))
    await traffic.send("a", calm, 400, n)
    await back
    t1 = datetime.now(UTC)
    sampled_a = await traffic.published() - before
    assert await collected(platform, t0, t1, sampled_a) == sampled_a  # none lost, none twice

    # Shifted: SHIFTED move by one standard deviation of the training data.
    moved = x.iloc[np.random.default_rng(2).permutation(n)].reset_index(drop=True)
    moved[SHIFTED] += x[SHIFTED].std()
    t2 = datetime.now(UTC)
    await traffic.send("b", moved, 0, n)
    t3 = datetime.now(UTC)
    sampled_b = await traffic.published() - before - sampled_a
    assert await collected(platform, t2, t3, sampled_b) == sampled_b
    sd = (2 * n * RATE * (1 - RATE)) ** 0.5  # binomial; 5 sd: a false alarm ~ 1 in 10^6
    assert abs(sampled_a + sampled_b - 2 * n * RATE) <= 5 * sd, (sampled_a, sampled_b)
    assert traffic.disagreements <= 2  # the deployed model is the registered one

    async with httpx.AsyncClient(base_url=platform.monitor, timeout=120) as monitor:
        spec = {"name": "cancer", "model_name": "cancer", "model_version": 1,
                "endpoint_name": "cancer", "baseline": {"dataset": "cancer-train"},  # latest
                "target_column": "label", "prediction_column": "prediction",
                "on_window_closed": False, "thresholds": {"drift_share": 0.05}}  # fmt: skip
        resp = await monitor.post("/v1/monitors", json=spec)
        assert resp.status_code == 201, resp.text
        mid, baseline_accuracy = resp.json()["id"], resp.json()["baseline_metrics"]["accuracy"]

        quiet = await run(monitor, mid, (t0, t1))
        assert (quiet["rows"], quiet["drifted_features"], quiet["dataset_drift"]) == (
            sampled_a, [], False)  # fmt: skip
        assert len(quiet["scores"]) == 31  # 30 inputs + the prediction
        shifted = await run(monitor, mid, (t2, t3))
        assert sorted(shifted["drifted_features"]) == sorted(SHIFTED)
        detected = await bus_probe.expect(
            DriftDetected, where=lambda e: e.run_id == shifted["id"], timeout=30
        )
        assert sorted(f.feature for f in detected.features) == sorted(SHIFTED)
        plot = await monitor.get(f"/v1/monitors/{mid}/runs/{shifted['id']}/plots/mean radius")
        assert plot.status_code == 200
        assert "Plotly.newPlot" in plot.text
        figure = tmp_path / "radius.json"
        cli(["monitor", "plot", mid, "mean radius", "--run", shifted["id"], "--format", "json",
             "--out", str(figure)], platform)  # fmt: skip
        assert [t["name"] for t in json.loads(figure.read_text())["data"]] == [
            "baseline",
            "current",
        ]

        # Labels arrive later: right ones first, then 30% of them flipped.
        async with httpx.AsyncClient(base_url=platform.collector, timeout=60) as collector:
            truth = [{"request_id": f"a-{i}", "label": v} for i, v in enumerate(labels)]
            assert (await collector.post("/v1/feedback", json=truth)).status_code == 200
            right = await run(monitor, mid, (t0, t1))
            flip = np.random.default_rng(3).random(n) < 0.3
            wrong = [
                {"request_id": f"a-{i}", "label": 1 - v} for i, v in enumerate(labels) if flip[i]
            ]
            # Chunks of < 100 rows: the collector's bulk update of >= 100 known request ids
            # hangs on FerretDB (reported to the lead; the collector is not ours to change).
            for i in range(0, len(wrong), 50):
                resp = await collector.post("/v1/feedback", json=wrong[i : i + 50])
                assert resp.status_code == 200, resp.text
        worse = await run(monitor, mid, (t0, t1))
        perf = right["performance"]
        assert perf["rows"] == sampled_a
        assert perf["accuracy"] > baseline_accuracy - 0.03
        assert {"f1", "precision", "recall"} <= set(perf)
        assert "modelops.performance.degraded.v1" not in right["events"]
        assert worse["performance"]["accuracy"] < baseline_accuracy - 0.15
        assert worse["performance"]["f1"] < perf["f1"]
        degraded = await bus_probe.expect(
            PerformanceDegraded, where=lambda e: e.run_id == worse["id"], timeout=30
        )
        assert (degraded.metric, degraded.value) == ("accuracy", worse["performance"]["accuracy"])

        # A cron-scheduled monitor (every 2 s: croniter puts seconds 6th) runs on its own.
        (tmp_path / "cron.json").write_text(json.dumps(spec | {"name": "cron"}))
        created = cli(["monitor", "create", str(tmp_path / "cron.json"), "--cron", "* * * * * */2"],
                      platform)  # fmt: skip
        cron_id = json.loads(created)["id"]
        async with asyncio.timeout(30):
            while not (runs := (await monitor.get(f"/v1/monitors/{cron_id}/runs")).json()):
                await asyncio.sleep(0.5)
        assert runs[0]["trigger"] == "schedule"
    await traffic.gateway.aclose()

"""The drift monitor on the real stack: baseline from a real registry process, runs, events.

Data: scikit-learn's bundled breast-cancer dataset with a logistic-regression model. The
baseline is the registered training data (with labels and predictions); "in-distribution"
windows are seeded bootstrap resamples of it, "shifted" ones add one standard deviation to
named features; "degraded" ones flip 30% of the labels.
"""

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no type information shipped
import pytest
from asgi_lifespan import LifespanManager
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from modelops_contracts.events import DriftChecked, DriftDetected, PerformanceDegraded
from modelops_drift_monitor.app import create_app
from modelops_drift_monitor.settings import DriftMonitorSettings
from modelops_testkit.probe import BusProbe
from modelops_testkit.processes import ServiceFleet

pytestmark = pytest.mark.integration
SHIFTED = ["mean radius", "worst texture", "mean smoothness"]
PARQUET = {"content-type": "application/vnd.apache.parquet"}


def training_frame() -> pd.DataFrame:
    data = load_breast_cancer(as_frame=True)
    frame: pd.DataFrame = data.frame
    x = frame.drop(columns=["target"])
    model = LogisticRegression(max_iter=5000).fit(x, frame["target"])
    frame["prediction"] = model.predict(x)
    return frame


def parquet(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def window(base: pd.DataFrame, seed: int, shift: list[str] = (), flip: float = 0.0) -> bytes:  # type: ignore[assignment]
    rng = np.random.default_rng(seed)
    out = base.sample(n=len(base), replace=True, random_state=seed).reset_index(drop=True)
    for name in shift:
        out[name] = out[name] + base[name].std()
    if flip:
        mask = rng.random(len(out)) < flip
        out.loc[mask, "target"] = 1 - out.loc[mask, "target"]
    return parquet(out)


async def register_dataset(url: str, name: str, data: bytes) -> None:
    sha = hashlib.sha256(data).hexdigest()
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        resp = await http.put(f"/v1/blobs/{sha}", content=data)
        assert resp.status_code in (200, 201), resp.text
        entry = {"path": "train.parquet", "sha256": sha, "size": len(data)}
        resp = await http.post(f"/v1/datasets/{name}/versions", json={"files": [entry]})
        assert resp.status_code in (200, 201), resp.text


@pytest.fixture
async def monitor_api(
    service_settings: Callable[..., Any], fleet: ServiceFleet
) -> AsyncIterator[tuple[httpx.AsyncClient, pd.DataFrame]]:
    registry = (await asyncio.to_thread(fleet.start, "registry"))[0]
    base = training_frame()
    await register_dataset(registry.url, "cancer-train", parquet(base))
    settings: DriftMonitorSettings = service_settings(
        DriftMonitorSettings, "drift_monitor", registry_url=registry.url, evidently_sample_rows=300
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        LifespanManager(app, startup_timeout=60),
        httpx.AsyncClient(transport=transport, base_url="http://t", timeout=120) as http,
    ):
        yield http, base


@pytest.mark.timeout(600)  # Evidently's HTML report imports and renders slowly on 2 shared cores
async def test_monitor_flags_exactly_the_shifted_features_and_a_drop_in_accuracy(
    monitor_api: tuple[httpx.AsyncClient, pd.DataFrame], bus_probe: BusProbe
) -> None:
    http, base = monitor_api
    body = {
        "name": "cancer", "model_name": "cancer", "model_version": 1, "endpoint_name": "cancer",
        "baseline": {"dataset": "cancer-train", "version": "1"},
        "target_column": "target", "prediction_column": "prediction",
        "thresholds": {"drift_share": 0.05},  # 3 of 31 watched columns
    }  # fmt: skip
    resp = await http.post("/v1/monitors", json=body)
    assert resp.status_code == 201, resp.text
    monitor = resp.json()
    assert monitor["baseline_rows"] == len(base)
    assert monitor["baseline_metrics"]["accuracy"] > 0.9
    mid = monitor["id"]

    calm = await http.post(f"/v1/monitors/{mid}/runs", content=window(base, 1), headers=PARQUET)
    assert calm.status_code == 201, calm.text
    assert calm.json()["drifted_features"] == []
    assert calm.json()["dataset_drift"] is False
    checked = await bus_probe.expect(
        DriftChecked, where=lambda e: e.run_id == calm.json()["id"], timeout=90
    )
    assert checked.dataset_drift is False

    moved = await http.post(
        f"/v1/monitors/{mid}/runs", content=window(base, 2, SHIFTED), headers=PARQUET
    )
    assert moved.status_code == 201, moved.text
    assert sorted(moved.json()["drifted_features"]) == sorted(SHIFTED)
    detected = await bus_probe.expect(
        DriftDetected, where=lambda e: e.run_id == moved.json()["id"], timeout=90
    )
    assert sorted(f.feature for f in detected.features) == sorted(SHIFTED)
    assert detected.report_uri is not None

    worse = await http.post(
        f"/v1/monitors/{mid}/runs", content=window(base, 3, flip=0.3), headers=PARQUET
    )
    assert worse.status_code == 201, worse.text
    perf = worse.json()["performance"]
    assert perf["accuracy"] < monitor["baseline_metrics"]["accuracy"] - 0.1
    assert {"precision", "recall", "f1"} <= set(perf)
    degraded = await bus_probe.expect(
        PerformanceDegraded, where=lambda e: e.run_id == worse.json()["id"], timeout=90
    )
    assert degraded.metric == "accuracy"

    runs = (await http.get(f"/v1/monitors/{mid}/runs")).json()
    assert len(runs) == 3
    report = await http.get(f"/v1/monitors/{mid}/runs/{moved.json()['id']}/report")
    assert report.status_code == 200
    assert "mean radius" in report.text
    evidently = await http.get(f"/v1/monitors/{mid}/runs/{moved.json()['id']}/evidently")
    assert evidently.status_code == 200
    assert len(evidently.text) > 10_000
    result = (await http.get(f"/v1/monitors/{mid}/runs/{moved.json()['id']}/result")).json()
    assert result["sample_size"] == len(base)

"""Promotion on the real stack: a registry process, the jobs app, real ONNX models scored on a
registered held-out dataset. A better challenger moves the alias and announces model.promoted;
a worse one is rejected and production is untouched; approval and dry runs change nothing
until a human says so."""

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd  # type: ignore[import-untyped]  # no type information shipped
import pytest

from modelops_client.config import ClientSettings
from modelops_client.registry import RegistryClient
from modelops_contracts.events import ModelPromoted
from modelops_demo import data
from modelops_jobs.settings import JobsSettings
from modelops_testkit.probe import BusProbe
from modelops_testkit.processes import ServiceFleet

pytestmark = pytest.mark.integration
Json = dict[str, Any]
POLICY = {
    "evaluation": {"dataset": "cancer-holdout", "label_column": "label"},
    "criteria": [
        {"metric": "accuracy", "threshold": 0.8},
        {"metric": "accuracy", "min_improvement": -0.01},
    ],
    "min_rows": 50,
}


@pytest.fixture
def registry_url(fleet: ServiceFleet) -> str:
    (proc,) = fleet.start("registry")
    return proc.url


@pytest.fixture
def registry(registry_url: str) -> Iterator[RegistryClient]:
    with RegistryClient(ClientSettings(registry_url=registry_url)) as client:
        yield client


@pytest.fixture
def jobs_settings(
    service_settings: Callable[..., Any], tmp_path: Path, registry_url: str
) -> JobsSettings:
    url = registry_url
    settings: JobsSettings = service_settings(
        JobsSettings, "jobs", runs_dir=tmp_path / "runs", registry_url=url,
        evaluation_dir=tmp_path / "evaluations",
    )  # fmt: skip
    return settings


def register(registry: RegistryClient, folder: Path, x: pd.DataFrame, y: pd.Series) -> int:
    data.save_onnx(data.fit(x, y), x.shape[1], folder)
    return registry.register_model("cancer", folder).version


async def promotion(jobs: httpx.AsyncClient, pid: str, *states: str) -> Json:
    async with asyncio.timeout(60):
        while True:
            resp = await jobs.get(f"/v1/promotions/{pid}")
            if resp.status_code == 200 and resp.json()["state"] in states:
                result: Json = resp.json()
                return result
            await asyncio.sleep(0.2)


async def test_better_promoted_worse_rejected_approval_and_dry_run(
    jobs: httpx.AsyncClient, registry: RegistryClient, tmp_path: Path, bus_probe: BusProbe
) -> None:
    x, y = data.cancer()
    train, holdout = x.index % 4 != 0, x.index % 4 == 0
    table = x[holdout].assign(label=y[holdout])
    registry.register_dataset("cancer-holdout", data.save_table(table, tmp_path / "h.parquet"))
    v1 = register(registry, tmp_path / "v1", x[train], y[train])
    registry.set_alias("cancer", "champion", v1)
    resp = await jobs.put("/v1/policies/cancer", json=POLICY)
    assert resp.status_code == 200, resp.text

    v2 = register(registry, tmp_path / "v2", x[train].iloc[::-1], y[train].iloc[::-1])
    promoted = await promotion(jobs, f"cancer:{v2}", "promoted", "rejected", "failed")
    assert promoted["state"] == "promoted", promoted
    assert promoted["champion_version"] == v1
    assert [v["passed"] for v in promoted["verdicts"]] == [True, True]
    assert promoted["comparison"]["data"]["rows"] == int(holdout.sum())
    event = await bus_probe.expect(ModelPromoted, where=lambda e: e.version == v2, timeout=20)
    assert (event.previous_version, event.decision_id) == (v1, f"cancer:{v2}")
    assert registry.get_alias("cancer", "champion")["version"] == v2
    audit = registry.audit("cancer")["items"]
    assert any(a.get("actor") == "policy:cancer" for a in audit), audit

    flipped = y[train].map({0: 1, 1: 0})  # a model that learned the labels backwards
    v3 = register(registry, tmp_path / "v3", x[train], flipped)
    rejected = await promotion(jobs, f"cancer:{v3}", "promoted", "rejected", "failed")
    assert rejected["state"] == "rejected"
    assert "accuracy" in rejected["reason"]
    assert rejected["verdicts"][0]["passed"] is False
    assert registry.get_alias("cancer", "champion")["version"] == v2  # production untouched

    resp = await jobs.put("/v1/policies/cancer", json={**POLICY, "auto": False})
    v4 = register(registry, tmp_path / "v4", x[train].iloc[::2], y[train].iloc[::2])
    dry = await jobs.post("/v1/promotions", json={"model_name": "cancer", "version": v4,
                                                   "dry_run": True})  # fmt: skip
    assert dry.status_code == 200, dry.text
    assert dry.json()["dry_run"] is True
    assert dry.json()["champion_version"] == v2
    assert (await jobs.get(f"/v1/promotions/cancer:{v4}")).status_code == 404

    resp = await jobs.put("/v1/policies/cancer", json={**POLICY, "require_approval": True})
    asked = await jobs.post("/v1/promotions", json={"model_name": "cancer", "version": v4})
    assert asked.json()["state"] == "awaiting_approval", asked.text
    assert registry.get_alias("cancer", "champion")["version"] == v2
    approved = await jobs.post(f"/v1/promotions/cancer:{v4}/approve", json={"reason": "ok"})
    assert approved.json()["state"] == "promoted", approved.text
    assert approved.json()["reviewed_by"] == "alice"
    assert registry.get_alias("cancer", "champion")["version"] == v4
    again = await jobs.post(f"/v1/promotions/cancer:{v4}/approve")
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")


async def test_bad_policy_and_unknown_promotion_are_refused(jobs: httpx.AsyncClient) -> None:
    no_bar = {**POLICY, "criteria": [{"metric": "accuracy"}]}
    resp = await jobs.put("/v1/policies/cancer", json=no_bar)
    assert resp.status_code == 422
    assert "threshold" in resp.text
    no_data = {**POLICY, "evaluation": {"label_column": "label"}}
    assert (await jobs.put("/v1/policies/cancer", json=no_data)).status_code == 422
    resp = await jobs.post("/v1/promotions", json={"model_name": "cancer", "version": 1})
    assert resp.status_code == 404
    assert "policy" in resp.json()["detail"]
    assert (await jobs.get("/v1/policies")).json() == {"items": []}

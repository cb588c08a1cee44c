"""A promotion policy's shadow period on the real stack, every service a process and the model
served by the process target: a challenger that passes offline is deployed as a shadow of the
endpoint, answers a mirrored share of the live traffic (never a client), and is judged on how
often its predictions agree with the champion's. A label-flipped challenger is rejected by the
shadow and production is untouched; a sound one is promoted and the endpoint rolls over to it.
No live request fails throughout."""

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pandas as pd  # type: ignore[import-untyped]  # no type information shipped
import pytest

from modelops_client.config import ClientSettings
from modelops_client.deployer import DeployerClient
from modelops_client.jobs import JobsClient
from modelops_client.registry import RegistryClient
from modelops_demo import data
from modelops_testkit.processes import ServiceFleet

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
SERVICES = ("registry", "deployer", "scoring_gateway", "jobs")
URL_FIELDS = ("registry_url", "deployer_url", "gateway_url", "jobs_url")
SHADOW = {"endpoint": "cancer", "percent": 50, "duration_s": 3, "min_requests": 20,
          "min_agreement": 0.9, "max_error_rate": 0.0, "timeout_s": 240}  # fmt: skip
POLICY = {
    "evaluation": {"dataset": "cancer-holdout", "label_column": "label"},
    # a bar every challenger clears offline: here the shadow period is the guard
    "criteria": [{"metric": "accuracy", "threshold": 0.0}],
    "min_rows": 50,
    "shadow": SHADOW,
}


class Traffic:
    """Live requests through the gateway in a thread; every answer other than 200 is kept."""

    def __init__(self, url: str, rows: list[list[float]]) -> None:
        self.url, self.rows = url, rows
        self.sent, self.failed = 0, list[str]()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> "Traffic":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        with httpx.Client(timeout=30) as http:
            while not self._stop.is_set():
                row = self.rows[self.sent % len(self.rows)]
                resp = http.post(self.url, json={"data": [row]})
                self.sent += 1
                if resp.status_code != 200:
                    self.failed.append(f"{resp.status_code} {resp.text[:200]}")
                time.sleep(0.02)


@pytest.fixture
def settings(fleet: ServiceFleet, tmp_path: Path) -> Iterator[ClientSettings]:
    fleet.extra_env.update({"MODELOPS_RECONCILE_INTERVAL_S": "0.5",
                            "MODELOPS_SHADOW_CHECK_S": "0.5",
                            "MODELOPS_STATE_DIR": str(tmp_path / "state")})  # fmt: skip
    fleet.start(*SERVICES)
    urls = {f: fleet.running[s].url for f, s in zip(URL_FIELDS, SERVICES, strict=True)}
    settings = ClientSettings.model_validate(urls)
    yield settings
    with closing(DeployerClient(settings)) as deployer:  # the replicas go with the endpoint
        for endpoint in deployer.list_endpoints():
            deployer.delete_endpoint(endpoint["name"])
        deadline = time.monotonic() + 60
        while deployer.list_deployments() and time.monotonic() < deadline:
            time.sleep(0.5)


def wait_for(what: str, check: Callable[[], Any], timeout_s: float = 180) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)
    return result


def register(registry: RegistryClient, folder: Path, x: pd.DataFrame, y: pd.Series) -> int:
    data.save_onnx(data.fit(x, y), x.shape[1], folder)
    return registry.register_model("cancer", folder).version


def ended(jobs: JobsClient, pid: str) -> Callable[[], dict[str, Any] | None]:
    def check() -> dict[str, Any] | None:
        decision = next((p for p in jobs.promotions("cancer") if p["promotion_id"] == pid), None)
        done = decision is not None and decision["state"] in ("promoted", "rejected", "failed")
        return decision if done else None

    return check


def test_the_shadow_rejects_a_disagreeing_challenger_and_promotes_a_sound_one(
    settings: ClientSettings, tmp_path: Path
) -> None:
    x, y = data.cancer()
    train, holdout = x.index % 4 != 0, x.index % 4 == 0
    with closing(RegistryClient(settings)) as registry:
        table = x[holdout].assign(label=y[holdout])
        registry.register_dataset("cancer-holdout", data.save_table(table, tmp_path / "h.parquet"))
        v1 = register(registry, tmp_path / "v1", x[train], y[train])
        registry.set_alias("cancer", "champion", v1)
    served = tmp_path / "v1"  # the process target serves the folder as it is
    (served / "modelserver.json").write_text(json.dumps(
        {"name": "cancer", "version": str(v1), "framework": "onnx", "model_file": "model.onnx"}
    ))  # fmt: skip
    with closing(DeployerClient(settings)) as deployer:
        deployer.create_endpoint("cancer", auth_mode="none", follow="cancer@champion",
                                 follow_rollout={"steps": [100], "bake_s": 0})  # fmt: skip
        deployer.create_deployment("cancer-v1", "cancer", model=f"cancer:{v1}", target="process",
                                   model_dir=str(served), cpu=0.1, memory_mb=256)  # fmt: skip
        assert deployer.wait("cancer-v1", timeout_s=120)["state"] == "Healthy"
    rows = x[holdout].to_numpy().tolist()
    url = f"{settings.gateway_url}/endpoints/cancer/score"
    wait_for("the gateway to route", lambda: httpx.post(url, json={"data": rows[:1]}).is_success)

    with Traffic(url, rows) as traffic, closing(JobsClient(settings)) as jobs:
        jobs.set_policy("cancer", POLICY)
        with closing(RegistryClient(settings)) as registry:
            flipped = register(registry, tmp_path / "v2", x[train], y[train].map({0: 1, 1: 0}))
        shadowing = wait_for("the shadow period", lambda: next(
            (p for p in jobs.promotions("cancer") if p["state"] == "shadowing"), None))  # fmt: skip
        assert shadowing["verdicts"][0]["passed"] is True  # offline, it passed
        rejected = wait_for("the flipped challenger's decision", ended(jobs, f"cancer:{flipped}"))
        assert rejected["state"] == "rejected", rejected
        agreement = next(v for v in rejected["verdicts"] if v["metric"] == "shadow_agreement")
        assert agreement["passed"] is False
        assert agreement["challenger"] < 0.5
        assert rejected["shadow"]["counts"]["mirrored"] >= SHADOW["min_requests"]
        with closing(DeployerClient(settings)) as deployer:
            endpoint = deployer.get_endpoint("cancer")
            assert endpoint["traffic"] == {"cancer-v1": 100}
            assert endpoint["mirror"] == {}  # the shadow is gone
            assert [d["name"] for d in endpoint["deployments"]] == ["cancer-v1"]
        with closing(RegistryClient(settings)) as registry:
            assert registry.get_alias("cancer", "champion")["version"] == v1
            sound = register(registry, tmp_path / "v3", x[train].iloc[::-1], y[train].iloc[::-1])

        promoted = wait_for("the sound challenger's decision", ended(jobs, f"cancer:{sound}"))
        assert promoted["state"] == "promoted", promoted
        agreement = next(v for v in promoted["verdicts"] if v["metric"] == "shadow_agreement")
        assert agreement["passed"] is True
        assert agreement["challenger"] >= SHADOW["min_agreement"]
        with closing(DeployerClient(settings)) as deployer:
            wait_for("the endpoint to roll over", lambda: deployer.get_endpoint("cancer")
                     ["traffic"].get(f"cancer-v{sound}") == 100)  # fmt: skip
            assert deployer.get_endpoint("cancer")["mirror"] == {}
        time.sleep(1)  # a few requests on the new version
    assert traffic.failed == []
    assert traffic.sent > 100

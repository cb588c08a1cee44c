"""The closed loop, told step by step against a running platform: train and register a model,
build and deploy it behind a keyed endpoint, collect its traffic, watch it drift, retrain on
labelled production data, judge the challenger against the champion, promote it, and roll the
endpoint over to it without a failed request."""

import time
import uuid
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped]  # no type information shipped
from rich.console import Console

from modelops_client.builder import BuilderClient
from modelops_client.cli.promotion import print_decision
from modelops_client.collector import CollectorClient
from modelops_client.config import ClientSettings
from modelops_client.deployer import DeployerClient
from modelops_client.gateway import GatewayClient
from modelops_client.jobs import JobsClient
from modelops_client.monitor import MonitorClient
from modelops_client.notifier import NotifierClient
from modelops_client.registry import RegistryClient
from modelops_contracts.events.model_version import Lineage
from modelops_demo import data
from modelops_demo.receiver import Received, Receiver
from modelops_demo.traffic import Traffic

LOOP = (
    "drift.detected.v1",
    "run.started.v1",
    "run.completed.v1",
    "model_version.registered.v1",
    "model.promoted.v1",
)
"""The loop's events, in the order they must happen (after the shift)."""


@dataclass
class Outcome:
    """What the story saw: names, events as they arrived, timings, failed requests."""

    name: str
    events: list[Received]
    timings: dict[str, float] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    sent: int = 0
    challenger: int = 0
    drift_after: float = 1.0
    """The drift share of the first monitor run on the baseline taken at the promotion."""


def _when(value: str) -> datetime:
    """A time from the JSON API (naive ones are UTC)."""
    when = datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def positional(x: pd.DataFrame) -> pd.DataFrame:
    """Columns named as the collector names a row sent as a list: f0, f1, ..."""
    return x.set_axis([f"f{i}" for i in range(x.shape[1])], axis=1)


class Story:
    """One run of the demo against the services `settings` points to."""

    def __init__(self, settings: ClientSettings, work: Path, console: Console) -> None:
        self.s, self.work, self.out = settings, work, console
        self.name = f"cancer-{uuid.uuid4().hex[:6]}"
        self.started = time.monotonic()
        self.receiver = Receiver(on_event=self._show)
        x, y = data.cancer()
        self.named, self.x, self.y = x, positional(x), y
        self.train = x.index % 4 != 0

    def step(self, text: str) -> None:
        self.out.print(f"[bold cyan]{time.monotonic() - self.started:7.1f}s[/] {text}")

    def _show(self, event: Received) -> None:
        d = event.data
        what = " ".join(
            f"{k}={d[k]}"
            for k in (
                "model_name",
                "version",
                "endpoint_name",
                "state",
                "run_id",
                "drift_share",
                "traffic",
                "to_deployment",
                "alias",
            )
            if d.get(k) is not None
        )
        self.step(f"  [magenta]webhook[/] {event.type} {what}")

    def subscribe(self) -> None:
        url = self.receiver.start()
        with closing(NotifierClient(self.s)) as notifier:
            sub = notifier.create_subscription(
                url, description=f"demo {self.name}", allow_insecure=True
            )
        self.receiver.secret = sub["secret"]
        self.step(f"webhook receiver at {url} subscribed to every event ({sub['id']})")

    def register(self) -> None:
        x, y, train = self.x, self.y, self.train
        model = data.fit(x[train], y[train])
        accuracy = model.score(x[~train], y[~train])
        self.step(f"trained a logistic regression: held-out accuracy {accuracy:.3f}")
        table = x[train].assign(label=y[train], prediction=model.predict(x[train]))
        with closing(BuilderClient(self.s)) as builder:
            builder.request("PUT", f"/v1/packages/auto-build/{self.name}", json={"enabled": True})
        with RegistryClient(self.s) as registry:
            ds = registry.register_dataset(
                f"{self.name}-train", data.save_table(table, self.work / "train.parquet")
            )
            folder = self.work / "v1"
            data.save_onnx(model, x.shape[1], folder)
            lineage = Lineage(datasets=[f"{ds.dataset_name}:{ds.version}"])
            info = registry.register_model(self.name, folder, lineage=lineage)
            registry.set_alias(self.name, "champion", info.version)
        self.step(
            f"registered {self.name}:1 (ONNX) with dataset {ds.dataset_name}:{ds.version}; "
            f"{self.name}@champion -> 1; the builder builds its image"
        )

    def deploy(self) -> str:
        built = self.receiver.wait("image.built.v1", lambda d: d["model_name"] == self.name)
        self.step(f"image {built.data['image']} built in {built.data['build_seconds']:.1f}s")
        with closing(DeployerClient(self.s)) as deployer:
            follow = {
                "steps": [50, 100],
                "bake_s": 8.0,
                "guards": {"max_error_rate": 0.01, "max_p99_ms": 2000, "min_requests": 10},
            }
            endpoint = deployer.create_endpoint(
                self.name, auth_mode="key", follow=f"{self.name}@champion", follow_rollout=follow
            )
            dep = f"{self.name}-v1"
            deployer.create_deployment(
                dep,
                self.name,
                model=f"{self.name}:1",
                target="docker",
                cpu=0.5,
                memory_mb=512,
                data_collection=True,
            )
            doc = deployer.wait(dep, timeout_s=300)
            if doc["state"] != "Healthy":
                raise RuntimeError(f"deployment {dep} is {doc['state']}: {doc.get('reason')}")
            deployer.set_traffic(self.name, {dep: 100})
        with closing(GatewayClient(self.s)) as gateway:
            gateway.wait_routed(self.name, dep)
        self.step(
            f"endpoint {self.name} (key auth) serves {dep} at "
            f"{self.s.gateway_url}/endpoints/{self.name}/score; follows @champion"
        )
        return str(endpoint["keys"]["primary"])

    def automate(self) -> None:
        features = list(self.x.columns)
        watched = [f"f{i}" for i in (*data.SHIFTED_AT, *data.STEADY_AT)]
        body = {
            "name": f"{self.name}-drift",
            "model_name": self.name,
            "endpoint_name": self.name,
            "baseline": {"dataset": f"{self.name}-train"},
            "features": watched,
            "target_column": "label",
            "schedule_interval_s": 10,
            "window_s": 30,
            "on_window_closed": False,
            "thresholds": {"drift_share": 0.4},
            "rebaseline_on_promotion": True,  # the new champion's data is the new normal
            "rebaseline_window_s": 15,  # the shifted traffic only
        }
        with MonitorClient(self.s) as monitor:
            self.monitor_id = monitor.create(body)["id"]
        self.step(
            f"drift monitor {self.monitor_id}: every 10 s, last 30 s vs the training data "
            "(rebaselined on promotion)"
        )
        code = Path(str(resources.files("modelops_demo") / "train_job"))
        with closing(JobsClient(self.s)) as jobs:
            jobs.create_job(
                f"{self.name}-retrain",
                ["python", "train.py"],
                code=code,
                timeout_s=600,
                parameters={"features": str(len(features))},
                inputs=[{"name": "recent", "endpoint": self.name, "window_s": 3600}],
                outputs=[{"model_name": self.name, "path": "model", "framework": "onnx"}],
                triggers=[
                    {
                        "event": "drift.detected",
                        "filter": {"endpoint_name": self.name},
                        "cooldown_s": 900,
                    }
                ],
            )
            jobs.set_policy(
                self.name,
                {
                    "evaluation": {"endpoint": self.name, "window_s": 3600, "features": features},
                    "criteria": [
                        {"metric": "accuracy", "threshold": 0.9},
                        {"metric": "accuracy", "min_improvement": 0.02},
                    ],
                    "min_rows": 30,
                },
            )
        self.step(
            "retraining job triggers on drift.detected (cool-down 15 min); policy: "
            "accuracy >= 0.9 and +0.02 over the champion on labelled production holdout"
        )

    def loop(self, traffic: Traffic) -> Outcome:
        outcome = Outcome(self.name, self.receiver.events)
        shifted = positional(data.shift(self.named, self.named[self.train]))
        traffic.use(shifted, self.y, label=True)
        t0 = time.monotonic()
        self.step(
            "[bold]traffic shifted[/]: 4 features moved by 1.5 standard deviations; "
            "labels arrive as feedback"
        )
        drift = self.receiver.wait("drift.detected.v1", lambda d: d["endpoint_name"] == self.name)
        flagged = [f["feature"] for f in drift.data["features"] if f.get("drifted")]
        self.step(
            f"[bold red]drift detected[/]: share {drift.data['drift_share']:.2f}, "
            f"features {flagged}"
        )
        run = self.receiver.wait(
            "run.started.v1", lambda d: d["job_name"] == f"{self.name}-retrain"
        )
        self.step(f"retraining run {run.data['run_id']} started by the drift event")
        with MonitorClient(self.s) as monitor:  # the drift storm goes on while the run runs
            again = monitor.run(self.monitor_id)
        self.step(
            f"drift checked again during the run: drift_share {again.get('drift_share', 0):.2f}"
            " (the job is busy: no second run)"
        )
        done = self.receiver.wait("run.completed.v1", lambda d: d["run_id"] == run.data["run_id"])
        self.step(f"run completed: {done.data['metrics']}")
        new = self.receiver.wait(
            "model_version.registered.v1",
            lambda d: d["model_name"] == self.name and d["version"] > 1,
        )
        outcome.challenger = version = int(new.data["version"])
        promoted = self.receiver.wait("model.promoted.v1", lambda d: d["version"] == version)
        with closing(JobsClient(self.s)) as jobs:
            print_decision(jobs.get_promotion(promoted.data["decision_id"]))
        self.wait_serving(f"{self.name}-v{version}")
        served = time.monotonic()
        outcome.drift_after = self.check_new_baseline(version)
        outcome.timings = {
            "shift_to_drift_s": drift.at - t0,
            "drift_to_run_s": run.at - drift.at,
            "drift_to_promoted_s": promoted.at - drift.at,
            "drift_to_serving_100_s": served - drift.at,
        }
        return outcome

    def check_new_baseline(self, version: int, timeout_s: float = 120) -> float:
        """The monitor took the shifted traffic as its baseline when version was promoted; its
        next run compares the traffic with that: the drift share it finds."""
        deadline = time.monotonic() + timeout_s
        with MonitorClient(self.s) as monitor:
            while True:
                rebased = monitor.show(self.monitor_id).get("rebaselined") or {}
                if rebased.get("version") == version:
                    at = _when(rebased["at"])
                    later = [
                        r for r in monitor.runs(self.monitor_id) if _when(r["started_at"]) > at
                    ]
                    if later:
                        break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no monitor run on the new baseline in {timeout_s:.0f} s")
                time.sleep(1)
        first = min(later, key=lambda r: _when(r["started_at"]))
        share = float(first["drift_share"])
        self.step(
            f"the monitor's baseline is now the traffic {self.name}:{version} serves: "
            f"drift share {share:.2f} on it"
        )
        return share

    def wait_serving(self, deployment: str, timeout_s: float = 600) -> None:
        deadline = time.monotonic() + timeout_s
        with closing(DeployerClient(self.s)) as deployer:
            while deployer.get_endpoint(self.name)["traffic"].get(deployment) != 100:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{deployment} not at 100% after {timeout_s:.0f} s")
                time.sleep(0.5)
        self.step(f"[bold green]{deployment} serves 100% of {self.name}[/]")

    def run(self) -> Outcome:
        self.subscribe()
        self.register()
        key = self.deploy()
        self.automate()
        with closing(CollectorClient(self.s)) as collector:
            traffic = Traffic(self.s.gateway_url, self.name, key, collector)
            traffic.use(self.x[self.train], self.y[self.train], label=False)
            traffic.start()
            self.step("traffic: 20 requests/s of in-distribution rows")
            try:
                self.wait_quiet()
                outcome = self.loop(traffic)
            finally:
                traffic.stop()
                self.receiver.stop()
        outcome.failed, outcome.sent = traffic.failed, traffic.sent
        self.summary(outcome)
        return outcome

    def wait_quiet(self) -> None:
        checked = self.receiver.wait("drift.checked.v1", lambda d: d["endpoint_name"] == self.name)
        self.step(
            f"drift checked on in-distribution traffic: share "
            f"{checked.data['drift_share']:.2f}, no drift"
        )

    def summary(self, o: Outcome) -> None:
        for name, seconds in o.timings.items():
            self.step(f"{name.replace('_', ' ')}: {seconds:.1f}")
        self.step(f"{o.sent} requests, {len(o.failed)} failed; {len(o.events)} webhooks verified")
        self.step(
            f"reports: {self.s.monitor_url}/v1/monitors/{self.monitor_id}/runs ; "
            f"decision: {self.s.jobs_url}/v1/promotions/{self.name}:{o.challenger}"
        )


def run_story(settings: ClientSettings, work: Path, console: Console | None = None) -> Any:
    return Story(settings, work, console or Console()).run()

"""The closed loop on the real stack, every service a process, the model served from an image
the builder built: drift on shifted traffic starts a retraining run on labelled production data,
the challenger beats the champion by the policy, the alias moves and the endpoint rolls over
without a failed request; the drift monitor takes the promoted model's traffic as its new
baseline and sees no drift on it; a second drift event during the run starts nothing; a worse
challenger is rejected and production is untouched."""

import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from rich.console import Console

from modelops_client.config import ClientSettings
from modelops_client.deployer import DeployerClient
from modelops_client.jobs import JobsClient
from modelops_client.monitor import MonitorClient
from modelops_client.registry import RegistryClient
from modelops_demo.__main__ import DEMO_ENV
from modelops_demo.story import LOOP, Story
from modelops_testkit.processes import ServiceFleet

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.timeout(1200)]
SERVICES = ("registry", "builder", "deployer", "scoring_gateway", "data_collector",
            "drift_monitor", "notifier", "jobs")  # fmt: skip
URL_FIELDS = ("registry_url", "builder_url", "deployer_url", "gateway_url", "collector_url",
              "monitor_url", "notifier_url", "jobs_url")  # fmt: skip


@pytest.fixture
def settings(fleet: ServiceFleet, tmp_path: Path) -> Iterator[ClientSettings]:
    fleet.extra_env.update(DEMO_ENV)
    fleet.extra_env["MODELOPS_WORK_DIR"] = str(Path.home() / ".cache/modelops/builder-tests")
    fleet.extra_env["MODELOPS_STATE_DIR"] = str(tmp_path / "state")
    fleet.start(*SERVICES)
    urls = {f: fleet.running[s].url for f, s in zip(URL_FIELDS, SERVICES, strict=True)}
    settings = ClientSettings.model_validate(urls)
    yield settings
    with closing(DeployerClient(settings)) as deployer:  # containers go with their endpoints
        for endpoint in deployer.list_endpoints():
            deployer.delete_endpoint(endpoint["name"])
        deadline = time.monotonic() + 60
        while deployer.list_deployments() and time.monotonic() < deadline:
            time.sleep(1)


def drift_events(settings: ClientSettings, monitor_id: str) -> int:
    """How many runs of the monitor announced drift.detected."""
    with MonitorClient(settings) as monitor:
        runs = monitor.runs(monitor_id)
    return sum("modelops.drift.detected.v1" in r.get("events", []) for r in runs)


def wait_for(what: str, check: Callable[[], bool], timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_drift_retrains_promotes_and_rolls_over_then_a_worse_challenger_is_rejected(
    settings: ClientSettings, tmp_path: Path
) -> None:
    story = Story(settings, tmp_path, Console(force_terminal=False, width=160))
    outcome = story.run()
    print(f"\nclosed loop timings: {outcome.timings}")
    assert outcome.failed == []
    assert outcome.sent > 200
    assert outcome.drift_after < 0.4  # the monitor's baseline is the promoted model's traffic

    ordered = sorted(outcome.events, key=lambda e: e.time)  # when each happened
    first_drift = next(i for i, e in enumerate(ordered) if e.type == LOOP[0])
    seen: list[str] = []
    for e in ordered[first_drift:]:
        if e.type in LOOP and e.type not in seen:
            seen.append(e.type)
    assert seen == list(LOOP), [(e.type, e.time) for e in ordered[first_drift:]]
    name, v2 = outcome.name, outcome.challenger
    with closing(RegistryClient(settings)) as registry:
        assert registry.get_alias(name, "champion")["version"] == v2
        lineage = registry.get_model(f"{name}:{v2}").lineage
    with closing(JobsClient(settings)) as jobs:
        decision = jobs.get_promotion(f"{name}:{v2}")
        assert decision["state"] == "promoted"
        champion, challenger = (decision["comparison"][k]["metrics"]["accuracy"]
                                for k in ("champion", "challenger"))  # fmt: skip
        assert challenger >= champion + 0.02
        runs = jobs.list_runs(job=f"{name}-retrain")
        assert lineage.run_id == runs[0]["run_id"]
    with MonitorClient(settings) as monitor:
        rebased = monitor.show(story.monitor_id)
        assert rebased["baseline_generation"] == 1
        assert rebased["rebaselined"]["version"] == v2
        assert rebased["baseline_rows"] > 100
    with closing(JobsClient(settings)) as jobs:
        assert runs[0]["inputs_used"][0]["rows"] > 0

        wait_for("a second drift event", lambda: drift_events(settings, story.monitor_id) >= 2)
        assert len(jobs.list_runs(job=f"{name}-retrain")) == 1  # one storm, one retraining
        assert jobs.get_job(f"{name}-retrain")["last_trigger"]["started"] is False

        worse = jobs.start_run(f"{name}-retrain", {"flip_labels": "true"})
        wait_for(
            "the worse challenger's decision",
            lambda: any(p["promotion_id"] != f"{name}:{v2}" and p["state"] != "evaluating"
                        for p in jobs.promotions(name)),
        )  # fmt: skip
        (rejected,) = [p for p in jobs.promotions(name) if p["promotion_id"] != f"{name}:{v2}"]
        assert rejected["state"] == "rejected", rejected
        assert jobs.get_run(worse["run_id"])["state"] == "completed"
    with closing(RegistryClient(settings)) as registry:
        assert registry.get_alias(name, "champion")["version"] == v2
    with closing(DeployerClient(settings)) as deployer:
        traffic = deployer.get_endpoint(name)["traffic"]
        assert traffic[f"{name}-v{v2}"] == 100
        assert sum(traffic.values()) == 100

"""Deployer + gateway as real processes, model servers as `process` replicas: the issue's checks."""

import asyncio
import contextlib
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from modelops_client.cli import app
from modelops_client.config import ClientSettings
from modelops_client.registry import RegistryClient
from modelops_contracts.events import RolloutRolledBack, RolloutStepTaken
from modelops_testkit.probe import BusProbe
from modelops_testkit.processes import ServiceFleet, ServiceProcess, free_port

pytestmark = pytest.mark.integration
BODY = {"data": [[1.0, 2.0]]}


class Platform:
    def __init__(self, deployer: str, gateway: str, state_dir: Path) -> None:
        self.api = httpx.Client(base_url=deployer, timeout=30)
        self.gateway = gateway
        self.state_dir = state_dir
        self.pids: set[int] = set()

    def create_endpoint(self, name: str, auth_mode: str = "key") -> dict[str, Any]:
        r = self.api.post("/v1/endpoints", json={"name": name, "auth_mode": auth_mode})
        assert r.status_code == 201, r.text
        return dict(r.json())

    def deploy(self, name: str, model_dir: Path, version: int, **extra: Any) -> None:
        body = {"name": name, "endpoint": "ep", "model_name": "tiny", "version": version,
                "model_dir": str(model_dir), "target": "process", "cpu": 0.1, "memory_mb": 64,
                "max_concurrency": 16, **extra}  # fmt: skip
        r = self.api.post("/v1/deployments", json=body)
        assert r.status_code == 201, r.text

    async def pinned(self, http: httpx.AsyncClient, deployment: str) -> Any:
        """The answer of one deployment (once the gateway routes to it)."""
        for _ in range(100):
            r = await http.post(
                "/endpoints/ep/score", json=BODY, headers={"modelops-deployment": deployment}
            )
            if r.status_code == 200 and r.headers["modelops-deployment"] == deployment:
                return r.json()
            await asyncio.sleep(0.1)
        raise AssertionError(f"{deployment} never answered: {r.status_code} {r.text}")

    def deployment(self, name: str) -> dict[str, Any]:
        doc = dict(self.api.get(f"/v1/deployments/{name}").json())
        self.pids |= {r["pid"] for r in doc.get("replicas", [])}
        return doc

    async def healthy(self, name: str, timeout: float = 40, replicas: int = 1) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            doc = self.deployment(name)
            if doc["state"] == "Healthy" and len(doc["upstreams"]) >= replicas:
                return doc
            assert doc["state"] != "Failed", doc
            await asyncio.sleep(0.2)
        raise TimeoutError(f"{name} not healthy: {doc}")

    @staticmethod
    def kill_replicas_under(folder: Path) -> None:
        """Every model server this test's deployer started (their model folders are ours)."""
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
                if "modelops_modelserver" in cmdline and str(folder) in cmdline:
                    os.kill(int(proc.name), signal.SIGKILL)


def run_platform(fleet: ServiceFleet, tmp_path: Path) -> Iterator[Platform]:
    """Deployer and gateway as processes (with the fleet's registry, if one runs)."""
    deployer_port, gateway_port = free_port(), free_port()
    deployer, gateway = f"http://127.0.0.1:{deployer_port}", f"http://127.0.0.1:{gateway_port}"
    fleet.extra_env.update({
        "MODELOPS_DEPLOYER_URL": deployer, "MODELOPS_GATEWAY_URL": gateway,
        "MODELOPS_RECONCILE_INTERVAL_S": "0.3", "MODELOPS_DRAIN_S": "1.5",
        "MODELOPS_STATE_DIR": str(tmp_path / "replicas"),
    })  # fmt: skip
    for name, port in (("deployer", deployer_port), ("scoring_gateway", gateway_port)):
        service = ServiceProcess(name, port, fleet.env_for(name, port), tmp_path / f"{name}.log")
        service.start()
        fleet.running[name] = service
    for service in fleet.running.values():
        service.wait_ready()
    platform = Platform(deployer, gateway, tmp_path / "replicas")
    yield platform
    platform.api.close()
    fleet.running["deployer"].stop()  # no more replicas started from here on
    platform.kill_replicas_under(tmp_path)


@pytest.fixture
def platform(fleet: ServiceFleet, tmp_path: Path) -> Iterator[Platform]:
    yield from run_platform(fleet, tmp_path)


@pytest.fixture
def registry(fleet: ServiceFleet) -> ServiceProcess:
    [registry] = fleet.start("registry")
    fleet.extra_env["MODELOPS_REGISTRY_URL"] = registry.url
    return registry


@pytest.fixture
def platform_and_registry(
    fleet: ServiceFleet, tmp_path: Path, registry: ServiceProcess
) -> Iterator[tuple[Platform, ServiceProcess]]:
    for platform in run_platform(fleet, tmp_path):
        yield platform, registry


async def until(check: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def test_split_pin_and_key_rotation(platform: Platform, onnx_model: Any) -> None:
    keys = platform.create_endpoint("ep")["keys"]
    platform.deploy("blue", onnx_model(version=1, scale=1.0), 1)
    platform.deploy("green", onnx_model(version=2, scale=2.0), 2)
    await platform.healthy("blue")
    await platform.healthy("green")
    r = platform.api.put("/v1/endpoints/ep/traffic", json={"traffic": {"blue": 90, "green": 10}})
    assert r.status_code == 200, r.text
    counts: Counter[str] = Counter()
    headers = {"Authorization": f"Bearer {keys['primary']}"}
    async with httpx.AsyncClient(base_url=platform.gateway, timeout=10) as http:

        async def split_seen() -> bool:
            r = await http.post("/endpoints/ep/score", json=BODY, headers=headers)
            return r.status_code == 200 and r.headers["modelops-deployment"] == "green"

        await until(lambda: True)
        for _ in range(50):  # the traffic event reaches the gateway
            if await split_seen():
                break

        async def one() -> None:
            r = await http.post("/endpoints/ep/score", json=BODY, headers=headers)
            assert r.status_code == 200, r.text
            counts[r.headers["modelops-deployment"]] += 1

        for _ in range(125):  # 5000 requests, 40 at a time
            await asyncio.gather(*(one() for _ in range(40)))
        assert abs(counts["green"] / 5000 - 0.10) <= 0.03, counts
        pin = await http.post(
            "/endpoints/ep/score", json=BODY, headers={**headers, "modelops-deployment": "green"}
        )
        assert pin.headers["modelops-deployment"] == "green"
        assert pin.json() == [[2.0, 4.0]]
        # key rotation: the client moves to the secondary, then the primary is regenerated
        current = {"api-key": keys["primary"]}
        failures, stop = 0, time.monotonic() + 4

        async def client() -> None:
            nonlocal failures
            while time.monotonic() < stop:
                r = await http.post("/endpoints/ep/score", json=BODY, headers=current)
                failures += r.status_code != 200
                await asyncio.sleep(0.005)

        load = asyncio.create_task(client())
        await asyncio.sleep(0.5)
        new_secondary = platform.api.post("/v1/endpoints/ep/keys/secondary/regenerate").json()[
            "key"
        ]
        current = {"api-key": new_secondary}
        await asyncio.sleep(0.5)
        platform.api.post("/v1/endpoints/ep/keys/primary/regenerate")
        await load
        assert failures == 0
        deadline = time.monotonic() + 10  # the regenerated key's event reaches the gateway
        while (old := await http.post(
            "/endpoints/ep/score", json=BODY, headers={"api-key": keys["primary"]}
        )).status_code == 200 and time.monotonic() < deadline:  # fmt: skip
            await asyncio.sleep(0.1)
        assert old.status_code == 401


async def test_update_in_place_and_crash_recovery(platform: Platform, onnx_model: Any) -> None:
    platform.create_endpoint("ep", auth_mode="none")
    platform.deploy("main", onnx_model(version=1, scale=1.0), 1)
    await platform.healthy("main")
    statuses: Counter[int] = Counter()
    versions: Counter[str] = Counter()
    stop = time.monotonic() + 60
    done = asyncio.Event()
    async with httpx.AsyncClient(base_url=platform.gateway, timeout=10) as http:

        async def client() -> None:
            while time.monotonic() < stop and not done.is_set():
                r = await http.post("/endpoints/ep/score", json=BODY)
                statuses[r.status_code] += 1
                versions[r.headers.get("modelops-model-version", "?")] += 1
                await asyncio.sleep(0.002)

        load = [asyncio.create_task(client()) for _ in range(4)]
        await asyncio.sleep(1)
        patch = {"model_dir": str(onnx_model(version=2, scale=2.0)), "version": 2}
        assert platform.api.patch("/v1/deployments/main", json=patch).status_code == 200
        await until(lambda: versions["2"] > 50, timeout=40)
        doc = await platform.healthy("main")
        await asyncio.sleep(2)  # the old replica drains and stops under load
        done.set()
        await asyncio.gather(*load)
        assert set(statuses) == {200}, statuses  # zero failed requests across the update
        await until(  # the drained old replica is stopped and gone
            lambda: [r["spec_gen"] for r in platform.deployment("main")["replicas"]] == [2],
            timeout=10,
        )
        doc = platform.deployment("main")
        # a replica killed mid-load is restarted and the endpoint recovers
        pid = doc["replicas"][0]["pid"]
        os.killpg(pid, signal.SIGKILL)
        await until(lambda: platform.deployment("main")["replicas"][0]["pid"] != pid, timeout=20)
        recovered = await platform.healthy("main")
        assert recovered["restarts"]
        r = await http.post("/endpoints/ep/score", json=BODY)
        assert r.status_code == 200


async def test_canary_breaching_a_guard_rolls_back(
    platform: Platform, onnx_model: Any, slow_model: Any, bus_probe: BusProbe
) -> None:
    platform.create_endpoint("ep", auth_mode="none")
    platform.deploy("stable", onnx_model(version=1), 1)
    platform.deploy("canary", slow_model(name="tiny", version=2, delay_ms=300), 2)
    await platform.healthy("stable")
    await platform.healthy("canary")
    body = {"to": "canary", "steps": [50, 100], "bake_s": 30,
            "guards": {"max_p99_ms": 100, "min_requests": 5}}  # fmt: skip
    r = platform.api.post("/v1/endpoints/ep/rollouts", json=body)
    assert r.status_code == 201, r.text
    async with httpx.AsyncClient(base_url=platform.gateway, timeout=10) as http:
        stop = time.monotonic() + 20
        while time.monotonic() < stop and not bus_probe.of(RolloutRolledBack):
            await asyncio.gather(
                *(http.post("/endpoints/ep/score", content=b"{}") for _ in range(8))
            )
    event = await bus_probe.expect(RolloutRolledBack, timeout=5)
    assert event.metric == "p99_ms"
    assert event.traffic == {"stable": 100, "canary": 0}
    endpoint = platform.api.get("/v1/endpoints/ep").json()
    assert endpoint["traffic"] == {"stable": 100, "canary": 0}


async def test_autoscale_on_observed_concurrency(platform: Platform, slow_model: Any) -> None:
    platform.create_endpoint("ep", auth_mode="none")
    model = slow_model(name="tiny", version=1, delay_ms=200)
    platform.deploy("elastic", model, 1, max_concurrency=1, replicas_min=1, replicas_max=2,
                    max_queue_wait_s=3.0)  # fmt: skip
    await platform.healthy("elastic")
    async with httpx.AsyncClient(base_url=platform.gateway, timeout=10) as http:
        stop = time.monotonic() + 30
        while time.monotonic() < stop and len(platform.deployment("elastic")["upstreams"]) < 2:
            await asyncio.gather(
                *(http.post("/endpoints/ep/score", content=b"{}") for _ in range(4))
            )
    doc = await platform.healthy("elastic", replicas=2)
    assert doc["desired"] == 2


def test_cli_and_declarative_apply(platform: Platform, onnx_model: Any, tmp_path: Path) -> None:
    env = {"MODELOPS_DEPLOYER_URL": str(platform.api.base_url).rstrip("/"),
           "MODELOPS_GATEWAY_URL": platform.gateway}  # fmt: skip
    runner = CliRunner()
    created = runner.invoke(app, ["endpoint", "create", "ep"], env=env)
    assert created.exit_code == 0, created.output
    key = created.output.split("primary key: ")[1].split()[0]
    manifest = tmp_path / "deploy.yaml"
    manifest.write_text(
        "kind: deployment\nname: blue\nendpoint_name: ep\nmodel: tiny:1\ntarget: process\n"
        f"model_dir: {onnx_model(version=1)}\nresources: {{cpu: 0.1, memory_mb: 64}}\n"
        "request_settings: {max_concurrent_requests_per_instance: 8}\n"
        "---\nkind: endpoint\nname: ep\ntraffic: {blue: 100}\n"
    )
    applied = runner.invoke(app, ["apply", "-f", str(manifest)], env=env)
    assert applied.exit_code == 0, applied.output
    assert "Healthy" in applied.output
    body = '{"data": [[1.0, 2.0]]}'
    for _ in range(50):  # the gateway hears about the deployment
        invoked = runner.invoke(
            app, ["endpoint", "invoke", "ep", "--data", body, "--key", key], env=env
        )
        if invoked.exit_code == 0:
            break
        time.sleep(0.1)
    assert invoked.exit_code == 0, invoked.output
    assert "deployment blue" in invoked.output
    shown = runner.invoke(app, ["endpoint", "show", "ep"], env=env)
    assert "blue" in shown.output
    logs = runner.invoke(app, ["deployment", "logs", "blue"], env=env)
    assert logs.exit_code == 0, logs.output


async def test_an_endpoint_following_an_alias_rolls_out_the_new_version(
    platform_and_registry: tuple[Platform, ServiceProcess], onnx_model: Any, bus_probe: BusProbe
) -> None:
    """Registered in a real registry, the new version's files are downloaded and served."""
    platform, registry = platform_and_registry
    env = {"MODELOPS_DEPLOYER_URL": str(platform.api.base_url).rstrip("/")}
    created = CliRunner().invoke(
        app,
        ["endpoint", "create", "ep", "--auth-mode", "none", "--follow", "tiny@champion",
         "--follow-steps", "50,100", "--follow-bake", "1"],
        env=env,
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    old, new = onnx_model(version=1, scale=1.0), onnx_model(version=2, scale=2.0)
    with RegistryClient(ClientSettings(registry_url=registry.url)) as sdk:
        await asyncio.to_thread(sdk.register_model, "tiny", old / "model.onnx")
        platform.deploy("blue", old, 1)
        await platform.healthy("blue")
        await asyncio.to_thread(sdk.register_model, "tiny", new / "model.onnx", alias="champion")
    step = await bus_probe.expect(RolloutStepTaken, timeout=40)
    assert (step.to_deployment, step.from_deployment) == ("ep-v2", "blue")
    assert step.traffic == {"ep-v2": 50, "blue": 50}  # the endpoint's own follow policy
    deployment = platform.deployment("ep-v2")
    folder = Path(deployment["model_dir"])
    assert deployment["version"] == 2
    assert folder.is_relative_to(platform.state_dir.resolve())
    assert (folder / "model.onnx").read_bytes() == (new / "model.onnx").read_bytes()
    config = json.loads((folder / "modelserver.json").read_text())
    assert config == {**json.loads((old / "modelserver.json").read_text()), "version": "2"}
    async with httpx.AsyncClient(base_url=platform.gateway, timeout=10) as http:
        assert await platform.pinned(http, "ep-v2") == [[2.0, 4.0]]  # the new model's outputs
        assert await platform.pinned(http, "blue") == [[1.0, 2.0]]
    done = await bus_probe.expect(RolloutStepTaken, where=lambda e: e.step == 1, timeout=20)
    assert done.traffic == {"ep-v2": 100, "blue": 0}

"""The docker target on the real engine: a container per replica with CPU/memory limits,
host network, restarted when killed, and the endpoint recovers; an endpoint following an
alias waits for the new version's image, then rolls it out."""

import asyncio
import contextlib
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

import modelops_modelserver
from modelops_contracts.events import ImageBuilt, ModelAliasSet, RolloutStepTaken
from modelops_servicekit.bus import Bus, NatsEventPublisher, make_broker
from modelops_testkit.probe import BusProbe
from modelops_testkit.processes import ServiceFleet, ServiceProcess, free_port

pytestmark = [pytest.mark.integration, pytest.mark.docker]
BASE_IMAGE = "modelops/python-base:bookworm"
PACKAGES = ("onnxruntime", "numpy", "numpy.libs", "orjson", "uvicorn", "uvloop", "httptools",
            "click", "h11", "prometheus_client", "flatbuffers", "google", "packaging",
            "typing_extensions.py")  # fmt: skip


def build_image(ctx: Path, dockerfile: str, tag: str) -> None:
    (ctx / "Dockerfile").write_text(dockerfile)
    client = docker.from_env()
    client.images.build(path=str(ctx), tag=tag, network_mode="host", rm=True)
    client.close()


def remove_image(tag: str) -> None:
    client = docker.from_env()
    for container in client.containers.list(all=True, filters={"ancestor": tag}):
        container.remove(force=True)
    with contextlib.suppress(docker.errors.DockerException):
        client.images.remove(tag, force=True)
    client.close()


@pytest.fixture
def model_image(tmp_path: Path, onnx_model: Any, namespace: str) -> Iterator[str]:
    """An image of the tiny model on the local base image (packages copied from this venv)."""
    ctx = tmp_path / "image"
    site = Path(next(p for p in sys.path if p.endswith("site-packages")))
    for name in PACKAGES:
        src = site / name
        (shutil.copy if src.is_file() else shutil.copytree)(src, ctx / "site" / name)
    shutil.copytree(
        Path(modelops_modelserver.__file__).parent, ctx / "site" / "modelops_modelserver"
    )
    shutil.copytree(onnx_model(version=1, scale=1.0), ctx / "model")
    tag = f"modelops-test/tiny:{namespace}"
    build_image(ctx, f"FROM {BASE_IMAGE}\nCOPY site /site\nCOPY model /model\n"
                "ENV PYTHONPATH=/site MODELOPS_MODELSERVER_MODEL_DIR=/model\n"
                'CMD ["python3", "-m", "modelops_modelserver"]\n', tag)  # fmt: skip
    yield tag
    remove_image(tag)


@pytest.fixture
def model_image_v2(model_image: str, tmp_path: Path, onnx_model: Any) -> Iterator[str]:
    """Version 2 (y = 2x): the version 1 image with the other model folder."""
    ctx = tmp_path / "image-v2"
    shutil.copytree(onnx_model(version=2, scale=2.0), ctx / "model")
    tag = model_image.replace("/tiny:", "/tiny-v2:")
    build_image(ctx, f"FROM {model_image}\nCOPY model /model\n", tag)
    yield tag
    remove_image(tag)


@pytest.fixture
def services(fleet: ServiceFleet, tmp_path: Path) -> Iterator[tuple[str, str]]:
    deployer_port, gateway_port = free_port(), free_port()
    deployer, gateway = f"http://127.0.0.1:{deployer_port}", f"http://127.0.0.1:{gateway_port}"
    fleet.extra_env.update({"MODELOPS_DEPLOYER_URL": deployer, "MODELOPS_GATEWAY_URL": gateway})
    fleet.extra_env.update({"MODELOPS_RECONCILE_INTERVAL_S": "0.3", "MODELOPS_DRAIN_S": "1"})
    for name, port in (("deployer", deployer_port), ("scoring_gateway", gateway_port)):
        service = ServiceProcess(name, port, fleet.env_for(name, port), tmp_path / f"{name}.log")
        service.start()
        fleet.running[name] = service
    for service in fleet.running.values():
        service.wait_ready()
    yield deployer, gateway
    fleet.running["deployer"].stop()


def healthy(api: httpx.Client, name: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc: dict[str, Any] = api.get(f"/v1/deployments/{name}").json()
        assert doc["state"] not in ("Failed", "Unschedulable"), doc
        if doc["state"] == "Healthy":
            return doc
        time.sleep(0.3)
    raise TimeoutError(name)


def test_containers_run_with_limits_and_are_restarted_when_killed(
    model_image: str, services: tuple[str, str]
) -> None:
    deployer, gateway = services
    engine = docker.from_env()
    with httpx.Client(base_url=deployer, timeout=30) as api:
        assert (
            api.post("/v1/endpoints", json={"name": "ep", "auth_mode": "none"}).status_code == 201
        )
        body = {"name": "box", "endpoint": "ep", "model_name": "tiny", "version": 1,
                "image": model_image, "target": "docker", "cpu": 0.5, "memory_mb": 256}  # fmt: skip
        assert api.post("/v1/deployments", json=body).status_code == 201
        doc = healthy(api, "box")
        container = engine.containers.get(doc["replicas"][0]["container"])
        host = container.attrs["HostConfig"]
        assert (host["NanoCpus"], host["Memory"], host["NetworkMode"]) == (
            500_000_000,
            256 * 1024 * 1024,
            "host",
        )
        score = httpx.post(f"{gateway}/endpoints/ep/score", json={"data": [[1.0, 2.0]]}, timeout=10)
        assert score.status_code == 200
        container.kill()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            doc = api.get("/v1/deployments/box").json()
            replicas = doc["replicas"]
            if doc["state"] == "Healthy" and replicas and replicas[0]["container"] != container.id:
                break
            time.sleep(0.3)
        else:
            raise AssertionError(f"not restarted: {doc}")
        assert doc["restarts"]
        for _ in range(50):  # the gateway learns the new upstream
            ok = httpx.post(f"{gateway}/endpoints/ep/score", json={"data": [[1.0, 2.0]]})
            if ok.status_code == 200:
                break
            time.sleep(0.1)
        assert ok.status_code == 200
        big = {**body, "name": "huge", "cpu": 512.0}
        assert api.post("/v1/deployments", json=big).status_code == 201
        time.sleep(1.5)
        assert api.get("/v1/deployments/huge").json()["state"] == "Unschedulable"
    engine.close()


async def _deployment(api: httpx.AsyncClient, name: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = await api.get(f"/v1/deployments/{name}")
        if resp.status_code == 200 and resp.json()["state"] == "Healthy":
            return dict(resp.json())
        await asyncio.sleep(0.3)
    raise TimeoutError(f"{name} not healthy: {resp.text}")


async def test_a_following_endpoint_awaits_the_new_image_then_rolls_it_out(
    model_image: str, model_image_v2: str, services: tuple[str, str], streams: Bus,
    bus_probe: BusProbe,
) -> None:  # fmt: skip
    deployer, gateway = services
    broker = make_broker(streams.settings, service="registry")
    await broker.connect()
    events = NatsEventPublisher(broker, Bus(streams.settings, "registry"))
    policy = {"steps": [50, 100], "bake_s": 600}
    async with httpx.AsyncClient(base_url=deployer, timeout=30) as api:
        body = {"name": "ep", "auth_mode": "none", "follow": "tiny@champion",
                "follow_rollout": policy}  # fmt: skip
        assert (await api.post("/v1/endpoints", json=body)).status_code == 201
        box = {"name": "box", "endpoint": "ep", "model_name": "tiny", "version": 1,
               "image": model_image, "target": "docker", "cpu": 0.5, "memory_mb": 256}  # fmt: skip
        assert (await api.post("/v1/deployments", json=box)).status_code == 201
        await _deployment(api, "box")

        moved = ModelAliasSet(model_name="tiny", alias="champion", version=2, previous_version=1)
        await events.publish(moved)  # the builder has not built version 2 yet
        for _ in range(100):
            awaiting = (await api.get("/v1/endpoints/ep")).json()["awaiting"]
            if awaiting:
                break
            await asyncio.sleep(0.1)
        assert awaiting is not None
        assert (awaiting["model_name"], awaiting["alias"], awaiting["version"]) == (
            "tiny",
            "champion",
            2,
        )
        assert (await api.get("/v1/deployments/ep-v2")).status_code == 404  # no old image

        built = ImageBuilt(package_id="p2", model_name="tiny", version=2, image=model_image_v2,
                           image_id="sha256:" + "0" * 64, manifest_digest="0" * 64,
                           base_image=BASE_IMAGE, size_bytes=1, build_seconds=1.0)  # fmt: skip
        await events.publish(built)
        step = await bus_probe.expect(RolloutStepTaken, timeout=90)
        assert step.traffic == {"ep-v2": 50, "box": 50}
        assert (await _deployment(api, "ep-v2"))["image"] == model_image_v2
        assert (await api.get("/v1/endpoints/ep")).json()["awaiting"] is None

        for redelivered in (built, moved):  # the same facts again: nothing new
            await events.publish(redelivered.model_copy(update={"event_id": uuid.uuid4()}))
        await asyncio.sleep(2)
        names = [d["name"] for d in (await api.get("/v1/deployments?endpoint=ep")).json()]
        assert names == ["box", "ep-v2"]
    await broker.stop()
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as http:
        pinned = {"modelops-deployment": "ep-v2"}
        for _ in range(50):  # the gateway learns the new deployment's upstream
            score = await http.post("/endpoints/ep/score", json={"data": [[1.0, 2.0]]},
                                    headers=pinned)  # fmt: skip
            if score.status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert score.json() == [[2.0, 4.0]]  # version 2's model, from version 2's image

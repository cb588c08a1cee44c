"""The docker target on the real engine: a container per replica with CPU/memory limits,
host network, restarted when killed, and the endpoint recovers."""

import contextlib
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

import modelops_modelserver
from modelops_testkit.processes import ServiceFleet, ServiceProcess, free_port

pytestmark = [pytest.mark.integration, pytest.mark.docker]
BASE_IMAGE = "modelops/python-base:bookworm"
PACKAGES = ("onnxruntime", "numpy", "numpy.libs", "orjson", "uvicorn", "uvloop", "httptools",
            "click", "h11", "prometheus_client", "flatbuffers", "google", "packaging",
            "typing_extensions.py")  # fmt: skip


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
    (ctx / "Dockerfile").write_text(
        f"FROM {BASE_IMAGE}\nCOPY site /site\nCOPY model /model\n"
        "ENV PYTHONPATH=/site MODELOPS_MODELSERVER_MODEL_DIR=/model\n"
        'CMD ["python3", "-m", "modelops_modelserver"]\n'
    )
    client = docker.from_env()
    tag = f"modelops-test/tiny:{namespace}"
    client.images.build(path=str(ctx), tag=tag, network_mode="host", rm=True)
    yield tag
    for container in client.containers.list(all=True, filters={"ancestor": tag}):
        container.remove(force=True)
    with contextlib.suppress(docker.errors.DockerException):
        client.images.remove(tag, force=True)
    client.close()


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

"""Consumed events on the real bus: deployments hold versions, completed runs register models."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from modelops_contracts.events import (
    DeploymentStateChanged,
    Event,
    Lineage,
    ModelVersionDeleted,
    ModelVersionRegistered,
    RunCompleted,
    RunModelOutput,
)
from modelops_contracts.types import DeploymentState, Framework
from modelops_registry.settings import RegistrySettings
from modelops_servicekit.bus import Bus, NatsEventPublisher, make_broker
from modelops_servicekit.objects import MinioObjectStore
from modelops_servicekit.settings import NatsSettings
from modelops_testkit.probe import BusProbe

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
Register = Callable[..., Awaitable[httpx.Response]]
Publish = Callable[[Event], Awaitable[None]]


@pytest.fixture
async def publish(nats_settings: NatsSettings, streams: Bus) -> AsyncIterator[Publish]:
    """Publish events on this test's bus, as another service would."""
    broker = make_broker(nats_settings, service="test")
    await broker.connect()
    yield NatsEventPublisher(broker, streams).publish
    await broker.stop()


def deployment(state: DeploymentState, generation: int) -> DeploymentStateChanged:
    return DeploymentStateChanged(
        deployment_name="blue",
        endpoint_name="churn-ep",
        model_name="served",
        version=1,
        state=state,
        generation=generation,
    )


async def _delete_until(http: httpx.AsyncClient, status: int) -> httpx.Response:
    async with asyncio.timeout(60):  # eventually: the registry learns from the bus
        while True:
            resp = await http.delete("/v1/models/served/versions/1")
            if resp.status_code == status:
                return resp
            await asyncio.sleep(0.1)


async def test_a_deployed_version_cannot_be_deleted_until_its_deployment_is_gone(
    registry: httpx.AsyncClient, register_model: Register, publish: Publish, bus_probe: BusProbe
) -> None:
    await register_model("served", {"m.bin": b"m"})
    await publish(deployment(DeploymentState.HEALTHY, 1))
    async with asyncio.timeout(60):  # the registry learns it from the bus
        while not (await registry.get("/v1/models/served/versions/1")).json()["deployments"]:
            await asyncio.sleep(0.1)

    refused = await _delete_until(registry, 409)
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["deployments"] == [
        {"endpoint_name": "churn-ep", "deployment_name": "blue", "state": "Healthy"}
    ]
    await publish(deployment(DeploymentState.DELETED, 2))
    await publish(deployment(DeploymentState.HEALTHY, 1))  # a late, older fact changes nothing

    deleted = await _delete_until(registry, 200)
    assert deleted.json() == {"model_name": "served", "version": 1, "deleted": True}
    event = await bus_probe.expect(ModelVersionDeleted)
    assert (event.model_name, event.version, event.deleted_by) == ("served", 1, "alice")
    assert (await registry.get("/v1/models/served/versions/1")).status_code == 404
    again = await register_model("served", {"m.bin": b"m"})
    assert again.json()["version"] == 2  # numbers are never reused


async def test_a_completed_run_registers_its_outputs_with_lineage_once(
    registry: httpx.AsyncClient,
    registry_settings: RegistrySettings,
    publish: Publish,
    bus_probe: BusProbe,
    onnx_bytes: bytes,
    tmp_path: Path,
    download_file: Callable[[str], Awaitable[bytes]],
) -> None:
    store = MinioObjectStore(registry_settings.objects)
    local = tmp_path / "model.onnx"
    local.write_bytes(onnx_bytes)
    await store.put_file(local, "runs/r1/out/model.onnx")
    bucket = registry_settings.objects.bucket
    jobs_bucket = bucket.removesuffix("-registry") + "-jobs"  # the jobs service's, same store
    jobs = MinioObjectStore(registry_settings.objects, jobs_bucket)
    await jobs.ensure_bucket()
    await jobs.put_file(local, "runs/r1/outputs/model.onnx")
    run = RunCompleted(
        run_id="r1",
        job_name="train",
        lineage=Lineage(experiment="exp", datasets=["customers:1"], git_commit="abc"),
        outputs=[
            RunModelOutput(
                model_name="trained",
                artifact_uri=f"s3://{bucket}/runs/r1/out/",
                framework=Framework.ONNX,
                tags={"from": "run"},
            ),
            RunModelOutput(
                model_name="from-jobs",
                artifact_uri=f"s3://{jobs_bucket}/runs/r1/outputs/model.onnx",
                framework=Framework.ONNX,
            ),
            RunModelOutput(
                model_name="elsewhere",
                artifact_uri="s3://other-bucket/m.pkl",
                framework=Framework.SKLEARN,
            ),
            RunModelOutput(
                model_name="skipped",
                artifact_uri="s3://other-bucket/x",
                framework=Framework.ONNX,
                auto_register=False,
            ),
        ],
    )
    await publish(run)
    await publish(run.model_copy(update={"event_id": uuid.uuid4()}))  # the same run, reported twice
    trained = await bus_probe.expect(ModelVersionRegistered, lambda e: e.model_name == "trained")
    assert (trained.lineage.run_id, trained.lineage.datasets) == ("r1", ["customers:1"])
    assert trained.created_by == "run:r1"
    version = (await registry.get("/v1/models/trained/versions/1")).json()
    assert [f["path"] for f in version["files"]] == ["model.onnx"]
    assert version["opset"] == 17
    assert await download_file("/v1/models/trained/versions/1/files/model.onnx") == onnx_bytes
    await bus_probe.expect(ModelVersionRegistered, lambda e: e.model_name == "from-jobs")
    copied = (await registry.get("/v1/models/from-jobs/versions/1")).json()
    assert [(f["path"], f["size"]) for f in copied["files"]] == [("model.onnx", len(onnx_bytes))]
    assert copied["source_uri"] is None
    await bus_probe.expect(ModelVersionRegistered, lambda e: e.model_name == "elsewhere")
    reference = (await registry.get("/v1/models/elsewhere/versions/1")).json()
    assert (reference["source_uri"], reference["files"]) == ("s3://other-bucket/m.pkl", [])
    assert (await registry.get("/v1/models/skipped")).status_code == 404
    await asyncio.sleep(1.0)  # the second report has been handled by now
    assert len(bus_probe.of(ModelVersionRegistered, lambda e: e.model_name == "trained")) == 1

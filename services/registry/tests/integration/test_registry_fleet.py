"""Registries as real processes: concurrent numbering across processes, and a kill -9 mid-stream."""

import asyncio
import hashlib
from collections import Counter
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from modelops_contracts.events import DeploymentStateChanged, ModelVersionRegistered
from modelops_contracts.types import DeploymentState
from modelops_servicekit.bus import Bus, NatsEventPublisher, make_broker
from modelops_servicekit.settings import NatsSettings
from modelops_testkit.probe import BusProbe
from modelops_testkit.processes import ServiceFleet, ServiceProcess
from modelops_testkit.servers import Stack

pytestmark = pytest.mark.integration


async def _blob(http: httpx.AsyncClient, url: str, data: bytes) -> dict[str, Any]:
    sha = hashlib.sha256(data).hexdigest()
    resp = await http.put(f"{url}/v1/blobs/{sha}", content=data)
    assert resp.status_code in (200, 201), resp.text
    return {"path": "model.bin", "sha256": sha, "size": len(data)}


async def _start(fleet: ServiceFleet) -> ServiceProcess:
    return (await asyncio.to_thread(fleet.start, "registry"))[0]


async def test_fifty_concurrent_registrations_on_two_processes_are_numbered_1_to_50(
    fleet: ServiceFleet, bus_probe: BusProbe
) -> None:
    first, second = await _start(fleet), await _start(fleet)
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            entry = await _blob(http, first.url, b"the same bytes, fifty times")

            async def one(i: int) -> int:
                url = (first, second)[i % 2].url
                body = {"files": [entry], "tags": {"client": str(i)}}
                resp = await http.post(f"{url}/v1/models/race/versions", json=body)
                assert resp.status_code == 201, resp.text
                return int(resp.json()["version"])

            versions = await asyncio.gather(*(one(i) for i in range(50)))
        assert sorted(versions) == list(range(1, 51))
        await bus_probe.expect(ModelVersionRegistered, count=50, timeout=30)
        announced = Counter(e.version for e in bus_probe.of(ModelVersionRegistered))
        assert announced == Counter(range(1, 51))  # each exactly once, though both relays ran
    finally:
        await asyncio.to_thread(first.stop)
        await asyncio.to_thread(second.stop)


async def _register_until_done(url: list[str], i: int) -> int:
    """Register one version, retrying with the same Idempotency-Key across a crash."""
    data = f"model {i}".encode()
    async with httpx.AsyncClient(timeout=10) as http:
        for _ in range(300):
            try:
                entry = await _blob(http, url[0], data)
                resp = await http.post(
                    f"{url[0]}/v1/models/crashy/versions",
                    json={"files": [entry]},
                    headers={"Idempotency-Key": f"k{i}"},
                )
                if resp.status_code in (200, 201):
                    return int(resp.json()["version"])
            except (httpx.TransportError, AssertionError):
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"registration {i} never succeeded")


async def test_a_kill_9_mid_stream_loses_no_event_and_duplicates_none(
    fleet: ServiceFleet,
    bus_probe: BusProbe,
    nats_settings: NatsSettings,
    streams: Bus,
    real_stack: Stack,
) -> None:
    # messages the killed process had pulled but not acked come back after ack_wait
    fleet.extra_env["MODELOPS_NATS__ACK_WAIT_S"] = "3"
    registry = await _start(fleet)
    url = [registry.url]
    broker = make_broker(nats_settings, service="test")
    await broker.connect()
    publisher = NatsEventPublisher(broker, streams)
    try:

        async def deployments() -> None:
            for i in range(20):
                await publisher.publish(
                    DeploymentStateChanged(
                        deployment_name=f"d{i}",
                        endpoint_name="ep",
                        model_name="crashy",
                        version=1,
                        state=DeploymentState.HEALTHY,
                    )
                )
                await asyncio.sleep(0.05)

        async def crash_and_restart() -> None:
            await asyncio.sleep(0.6)
            await asyncio.to_thread(registry.kill)
            await asyncio.sleep(0.3)
            await asyncio.to_thread(registry.start)
            await asyncio.to_thread(registry.wait_ready)

        async def registrations() -> list[int]:
            out = []
            for i in range(12):
                out.append(await _register_until_done(url, i))
            return out

        versions, _, _ = await asyncio.gather(registrations(), deployments(), crash_and_restart())
        assert sorted(versions) == list(range(1, 13))
        await bus_probe.expect(ModelVersionRegistered, count=12, timeout=30)
        await asyncio.sleep(1.5)  # a relay that re-publishes would show up by now
        announced = Counter(e.version for e in bus_probe.of(ModelVersionRegistered))
        assert announced == Counter(range(1, 13))

        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(real_stack.mongo_url)
        applied = client[f"{fleet.namespace}_registry"]["deployments"]
        async with asyncio.timeout(30):
            while await applied.count_documents({}) < 20:
                await asyncio.sleep(0.2)
        await client.close()
        assert "Started server process" in registry.log_tail(100_000)
    finally:
        await broker.stop()
        await asyncio.to_thread(registry.stop)

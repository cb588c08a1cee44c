"""Every service as a real process on the real stack: healthy, observable, wired to the bus."""

import asyncio
import signal

import httpx
import nats
import pytest

from modelops_contracts.events import DeploymentStateChanged
from modelops_contracts.types import DeploymentState
from modelops_servicekit.bus import Bus, NatsEventPublisher, make_broker
from modelops_servicekit.settings import NatsSettings
from modelops_testkit.processes import ServiceFleet
from modelops_testkit.servers import Stack

pytestmark = pytest.mark.e2e

SERVICES = (
    "registry",
    "builder",
    "deployer",
    "scoring_gateway",
    "data_collector",
    "drift_monitor",
    "notifier",
    "jobs",
)


async def test_every_service_starts_healthy_and_consumes_its_events(
    fleet: ServiceFleet, real_stack: Stack, nats_settings: NatsSettings, streams: Bus
) -> None:
    started = await asyncio.to_thread(fleet.start, *SERVICES)

    async with httpx.AsyncClient(timeout=5) as http:
        for service in started:
            ready = await http.get(f"{service.url}/health/ready")
            assert ready.status_code == 200, (service.name, ready.text)
            assert ready.json()["checks"] == {"nats": True, "mongo": True, "objects": True}
            assert (await http.get(f"{service.url}/health/live")).json() == {"status": "alive"}
            docs = await http.get(f"{service.url}/openapi.json")
            assert docs.json()["info"]["title"] == f"modelops-{service.name}"
            missing = await http.get(f"{service.url}/v1/nothing-here")
            assert missing.status_code == 404
            assert missing.headers["content-type"] == "application/problem+json"
            assert missing.headers["x-request-id"]
            metrics = await http.get(f"{service.url}/metrics")
            assert "modelops_http_requests_total" in metrics.text

    event = DeploymentStateChanged(
        deployment_name="blue",
        endpoint_name="churn",
        model_name="churn",
        version=1,
        state=DeploymentState.HEALTHY,
    )
    broker = make_broker(nats_settings, service="test")
    await broker.connect()
    await NatsEventPublisher(broker, streams).publish(event)
    await broker.stop()

    nc = await nats.connect(real_stack.nats_url)
    js = nc.jetstream()
    last = (await js.stream_info(streams.events_stream)).state.last_seq
    consumers = (  # every service that consumes it has applied and acknowledged it
        "registry__deployment_state_changed_v1",
        "scoring_gateway__deployment_state_changed_v1",
        "notifier__all",
    )
    async with asyncio.timeout(30):
        for durable in consumers:
            while True:
                info = await js.consumer_info(streams.events_stream, durable)
                if info.ack_floor.stream_seq >= last and not info.num_ack_pending:
                    break
                await asyncio.sleep(0.1)
    await nc.close()

    for service in started:  # SIGTERM: uvicorn drains, shuts down, then re-raises the signal
        assert service.stop() == -signal.SIGTERM, (service.name, service.log_tail())
        assert "Finished server process" in service.log_tail(), service.name

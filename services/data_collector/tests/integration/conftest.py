"""Fixtures for the collector's real-stack tests: events on the bus, the app in-process."""

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from modelops_contracts.events import PredictionLogged
from modelops_data_collector.app import create_app
from modelops_data_collector.settings import DataCollectorSettings
from modelops_servicekit.bus import Bus, NatsEventPublisher, make_broker

Publish = Callable[[list[PredictionLogged]], Awaitable[None]]
PAST_HOUR = (datetime.now(UTC) - timedelta(hours=3)).replace(minute=10, second=0, microsecond=0)


def prediction(
    i: int, at: datetime = PAST_HOUR, endpoint: str = "churn", **kw: Any
) -> PredictionLogged:
    """A logged prediction with a flat-dict input and a one-element output."""
    fields: dict[str, Any] = {
        "request_id": f"req-{i}",
        "endpoint_name": endpoint,
        "deployment_name": "blue",
        "model_name": "churn",
        "model_version": "3",
        "inputs": {"age": 20 + i % 50, "plan": "gold" if i % 2 else "basic"},
        "outputs": [i % 2],
        "latency_ms": 1.5,
        "occurred_at": at + timedelta(milliseconds=i),
    }
    return PredictionLogged(**(fields | kw))


@pytest.fixture
def make_prediction() -> Callable[..., PredictionLogged]:
    return prediction


@pytest.fixture
async def publish(streams: Bus) -> AsyncIterator[Publish]:
    """Publish events to the test's streams and wait for each to be stored."""
    broker = make_broker(streams.settings, service="test")
    await broker.connect()
    publisher = NatsEventPublisher(broker, streams)

    async def run(events: list[PredictionLogged]) -> None:
        for e in events:
            await publisher.publish(e)

    yield run
    await broker.stop()


@pytest.fixture
def collector_settings(service_settings: Callable[..., Any]) -> DataCollectorSettings:
    settings: DataCollectorSettings = service_settings(
        DataCollectorSettings,
        "data_collector",
        flush_interval_s=0.5,
        window_grace_s=0.0,
        close_tick_s=0.3,
    )
    return settings


@pytest.fixture
async def collector(collector_settings: DataCollectorSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The collector in-process (its intake and closer running), and an HTTP client to it."""
    app = create_app(collector_settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client

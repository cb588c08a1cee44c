"""The bus against a real NATS JetStream: durability, de-duplication, dead letters."""

import asyncio
from pathlib import Path

import pytest

from modelops_contracts.events import MessageDeadLettered, ModelAliasSet
from modelops_servicekit.bus import Bus, NatsEventPublisher, make_broker
from modelops_servicekit.settings import NatsSettings
from modelops_testkit.consumers import consuming, run_python
from modelops_testkit.probe import BusProbe

pytestmark = pytest.mark.integration
CHILDREN = Path(__file__).parent / "children"


def alias_event(version: int = 3) -> ModelAliasSet:
    return ModelAliasSet(model_name="churn", alias="champion", version=version)


async def test_a_durable_consumer_down_at_publish_time_gets_the_event_later(
    nats_settings: NatsSettings, streams: Bus
) -> None:
    received: list[ModelAliasSet] = []

    async def handler(event: ModelAliasSet) -> None:
        received.append(event)

    async with consuming(nats_settings, ModelAliasSet, handler):
        pass  # creates the durable consumer, then the service goes down
    event = alias_event()
    code = await run_python(
        CHILDREN / "publish.py",
        nats_settings.url,
        nats_settings.namespace,
        event.subject,
        event.model_dump_json(),
    )
    assert code == 0
    async with consuming(nats_settings, ModelAliasSet, handler):
        async with asyncio.timeout(10):
            while not received:
                await asyncio.sleep(0.02)
    assert [e.event_id for e in received] == [event.event_id]


async def test_a_duplicate_publish_with_the_same_id_is_applied_once(
    nats_settings: NatsSettings, streams: Bus, bus_probe: BusProbe
) -> None:
    broker = make_broker(nats_settings, service="publisher")
    await broker.connect()
    publisher = NatsEventPublisher(broker, streams)
    event, other = alias_event(3), alias_event(4)
    await publisher.publish(event)
    await publisher.publish(event)  # e.g. a retry after a lost acknowledgement
    await publisher.publish(other)
    await broker.stop()
    applied: list[str] = []

    async def handler(e: ModelAliasSet) -> None:
        applied.append(str(e.event_id))

    async with consuming(nats_settings, ModelAliasSet, handler):
        await bus_probe.expect(ModelAliasSet, lambda e: e.version == 4)
        async with asyncio.timeout(10):
            while len(applied) < 2:
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)  # a second copy, if any, would arrive now
    assert sorted(applied) == sorted([str(event.event_id), str(other.event_id)])
    assert len(bus_probe.of(ModelAliasSet)) == 2


async def test_a_malformed_message_is_dead_lettered_and_the_next_one_still_handled(
    nats_settings: NatsSettings, streams: Bus, bus_probe: BusProbe
) -> None:
    handled: list[ModelAliasSet] = []

    async def handler(e: ModelAliasSet) -> None:
        handled.append(e)

    broker = make_broker(nats_settings, service="publisher")
    await broker.connect()
    subject = streams.subject(ModelAliasSet)
    async with consuming(nats_settings, ModelAliasSet, handler):
        await broker.publish(b"{not json", subject=subject, stream=streams.events_stream)
        await broker.publish(
            b'{"model_name": "churn"}', subject=subject, stream=streams.events_stream
        )
        good = alias_event()
        await NatsEventPublisher(broker, streams).publish(good)
        dead = await bus_probe.expect(MessageDeadLettered, count=2)
        async with asyncio.timeout(10):
            while not handled:
                await asyncio.sleep(0.02)
    await broker.stop()
    assert [e.event_id for e in handled] == [good.event_id]
    letters = bus_probe.of(MessageDeadLettered)
    assert {d.original_subject for d in letters} == {ModelAliasSet.subject}
    assert any("{not json" in d.payload for d in letters)
    assert all("not a valid ModelAliasSet" in d.reason for d in letters)
    assert dead.consumer == "consumer__model_alias_set_v1"


async def test_a_handler_that_keeps_failing_is_retried_then_dead_lettered(
    nats_settings: NatsSettings, streams: Bus, bus_probe: BusProbe
) -> None:
    attempts: list[int] = []

    async def handler(e: ModelAliasSet) -> None:
        attempts.append(e.version)
        raise RuntimeError("downstream is broken")

    broker = make_broker(nats_settings, service="publisher")
    await broker.connect()
    async with consuming(nats_settings, ModelAliasSet, handler):
        await NatsEventPublisher(broker, streams).publish(alias_event())
        dead = await bus_probe.expect(MessageDeadLettered, timeout=20)
    await broker.stop()
    assert len(attempts) == nats_settings.max_deliver
    assert "downstream is broken" in dead.reason
    assert dead.deliveries == nats_settings.max_deliver

"""The outbox against real MongoDB-wire and NATS servers, with real process kills."""

import asyncio
from pathlib import Path

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from modelops_contracts.events import ModelVersionDeleted
from modelops_servicekit.bus import Bus, NatsEventPublisher, make_broker
from modelops_servicekit.mongo import Document, open_mongo
from modelops_servicekit.outbox import OUTBOX_FIELD, OutboxRelay, push_outbox, with_outbox
from modelops_servicekit.settings import MongoSettings, NatsSettings
from modelops_testkit.consumers import run_python
from modelops_testkit.probe import BusProbe

pytestmark = pytest.mark.integration
CHILDREN = Path(__file__).parent / "children"


async def restart_relay(nats_settings: NatsSettings, bus: Bus, db: AsyncDatabase[Document]) -> int:
    broker = make_broker(nats_settings, service="writer")
    await broker.connect()
    try:
        return await OutboxRelay(NatsEventPublisher(broker, bus), [db["things"]]).drain()
    finally:
        await broker.stop()


@pytest.mark.parametrize("crash", ["before_publish", "after_publish"])
async def test_a_process_killed_around_the_publish_still_gets_its_event_out_once(
    crash: str,
    nats_settings: NatsSettings,
    mongo_settings: MongoSettings,
    streams: Bus,
    mongo_db: AsyncDatabase[Document],
    bus_probe: BusProbe,
) -> None:
    code = await run_python(
        CHILDREN / "outbox_writer.py",
        nats_settings.url,
        nats_settings.namespace,
        mongo_settings.url,
        mongo_settings.database,
        crash,
    )
    assert code == -9 or code == 137 or code == 9, code  # killed, not exited cleanly
    doc = await mongo_db["things"].find_one({"_id": "churn:7"})
    assert doc is not None
    assert doc["state"] == "deleted"  # the state change was stored ...
    assert len(doc[OUTBOX_FIELD]) == 1  # ... with its event still pending

    republished = await restart_relay(nats_settings, streams, mongo_db)

    assert republished == 1
    event = await bus_probe.expect(ModelVersionDeleted)
    assert (event.model_name, event.version) == ("churn", 7)
    doc = await mongo_db["things"].find_one({"_id": "churn:7"})
    assert doc is not None
    assert doc[OUTBOX_FIELD] == []
    assert await restart_relay(nats_settings, streams, mongo_db) == 0
    js_info = await bus_probe_stream_count(bus_probe, streams)
    assert js_info == 1  # published once, even when the crash came after the publish


async def bus_probe_stream_count(probe: BusProbe, bus: Bus) -> int:
    return len([m for m in probe.raw if m.subject == bus.subject(ModelVersionDeleted)])


async def test_an_update_and_its_events_are_one_write(
    mongo_db: AsyncDatabase[Document],
) -> None:
    coll = mongo_db["things"]
    await coll.insert_one({"_id": "a", "n": 0, OUTBOX_FIELD: []})
    first, second = (
        ModelVersionDeleted(model_name="a", version=1),
        ModelVersionDeleted(model_name="a", version=2),
    )
    await coll.update_one({"_id": "a"}, push_outbox({"$set": {"n": 1}}, [first, second]))
    doc = await coll.find_one({"_id": "a"})
    assert doc is not None
    assert doc["n"] == 1
    assert [e["event_id"] for e in doc[OUTBOX_FIELD]] == [str(first.event_id), str(second.event_id)]
    assert with_outbox({"x": 1}, [])[OUTBOX_FIELD] == []


async def test_an_update_racing_the_relays_pull_keeps_its_state_and_its_event(
    nats_settings: NatsSettings,
    mongo_settings: MongoSettings,
    streams: Bus,
    bus_probe: BusProbe,
) -> None:
    """The service's own database (open_mongo): the relay pulls a published event from a
    document while its owner writes the next state and event into it, 60 times over."""
    rounds = 60
    broker = make_broker(nats_settings, service="writer")
    await broker.connect()
    try:
        async with open_mongo(mongo_settings) as db:
            things = db["things"]
            relay = OutboxRelay(NatsEventPublisher(broker, streams), [db["things"]])
            for version in range(1, rounds + 1):
                first = ModelVersionDeleted(model_name="race", version=version)
                await things.insert_one(with_outbox({"_id": version, "state": 1}, [first]))
                second = ModelVersionDeleted(model_name="race-next", version=version)
                update = push_outbox({"$set": {"state": 2}}, [second])
                await asyncio.gather(relay.drain(), things.update_one({"_id": version}, update))
            while await relay.drain():
                pass
            states = [d["state"] async for d in things.find({}, {"state": 1})]
    finally:
        await broker.stop()
    assert states == [2] * rounds  # no update written over by the relay's copy
    await bus_probe.expect(ModelVersionDeleted, lambda e: e.model_name == "race", count=rounds)
    await bus_probe.expect(  # and no event pushed beside a pull lost
        ModelVersionDeleted, lambda e: e.model_name == "race-next", count=rounds
    )

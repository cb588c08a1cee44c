"""Child process: write a state change with its event in the outbox, then die at a chosen point.

crash=before_publish: the process is killed right after the MongoDB write.
crash=after_publish:  it relays, JetStream acknowledges, and it is killed before the outbox
                      entry is removed.
"""

import asyncio
import os
import sys

from pymongo import AsyncMongoClient

from modelops_contracts.events import ModelVersionDeleted
from modelops_servicekit.bus import Bus, NatsEventPublisher, make_broker
from modelops_servicekit.outbox import OutboxRelay, with_outbox
from modelops_servicekit.settings import NatsSettings


class DieAfterPublish:
    def __init__(self, inner: NatsEventPublisher) -> None:
        self.inner = inner

    async def publish(self, event: object) -> None:
        await self.inner.publish(event)  # type: ignore[arg-type]  # always an Event here
        os._exit(9)  # killed between the acknowledged publish and the outbox update


async def main(nats_url: str, namespace: str, mongo_url: str, database: str, crash: str) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_url)
    coll = client[database]["things"]
    event = ModelVersionDeleted(model_name="churn", version=7)
    await coll.insert_one(with_outbox({"_id": "churn:7", "state": "deleted"}, [event]))
    if crash == "before_publish":
        os._exit(9)
    settings = NatsSettings(url=nats_url, namespace=namespace)
    bus = Bus(settings, "writer")
    broker = make_broker(settings, service="writer")
    await broker.connect()
    relay = OutboxRelay(DieAfterPublish(NatsEventPublisher(broker, bus)), [coll])
    await relay.drain()
    raise SystemExit("unreachable: the relay should have killed the process")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))

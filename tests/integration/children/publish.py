"""Child process: publish one event (given as JSON) through the servicekit publisher, then exit."""

import asyncio
import sys

from modelops_contracts.events import CATALOG
from modelops_servicekit.bus import Bus, NatsEventPublisher, make_broker
from modelops_servicekit.settings import NatsSettings


async def main(url: str, namespace: str, subject: str, payload: str) -> None:
    settings = NatsSettings(url=url, namespace=namespace)
    bus = Bus(settings, "publisher")
    broker = make_broker(settings, service="publisher")
    await broker.connect()
    await NatsEventPublisher(broker, bus).publish(CATALOG[subject].model_validate_json(payload))
    await broker.stop()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))

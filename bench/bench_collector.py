"""Data collector benchmark: sustained ingest rate from the predictions stream into Parquet.

One command: `uv run python bench/bench_collector.py [--events 200000]` (local stack running).
Bounded: a fixed number of events and a 60 s cap on waiting; 127.0.0.1 only. The collector runs
as its own process (as in production); this process publishes PredictionLogged events to the
predictions stream as fast as it can, then waits until the collector's durable consumer has
nothing pending or unacknowledged (a message is acknowledged only once its Parquet object is
stored), and finally counts the rows in the bucket.
"""

import argparse
import asyncio
import io
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
import pyarrow.parquet as pq  # type: ignore[import-untyped]  # no type information shipped
from pymongo import AsyncMongoClient

from modelops_contracts.events import PredictionLogged
from modelops_servicekit.bus import Bus, delete_streams, ensure_streams, make_broker
from modelops_servicekit.objects import MinioObjectStore
from modelops_servicekit.settings import NatsSettings, ObjectStoreSettings
from modelops_testkit.processes import ServiceFleet
from modelops_testkit.servers import stack

WAIT_S = 60.0
PUBLISH_WINDOW = 500


def bodies(n: int) -> list[bytes]:
    """N distinct events: 8 numeric features, one scalar prediction, 4 endpoints, 2 versions."""
    now = datetime.now(UTC) - timedelta(minutes=1)
    out = []
    for i in range(n):
        event = {
            "event_id": str(uuid.uuid4()),
            "occurred_at": (now + timedelta(microseconds=i)).isoformat(),
            "request_id": f"r{i}",
            "endpoint_name": f"ep{i % 4}",
            "deployment_name": "blue",
            "model_name": "m",
            "model_version": str(1 + i % 2),
            "inputs": {f"x{j}": (i * 7 + j) % 100 / 10 for j in range(8)},
            "outputs": [i % 2],
            "latency_ms": 2.5,
            "status_code": 200,
        }
        out.append(json.dumps(event).encode())
    return out


async def run(n: int) -> None:
    real = stack()
    namespace = "bench" + uuid.uuid4().hex[:8]
    nats_settings = NatsSettings(url=real.nats_url, namespace=namespace)
    bus = Bus(nats_settings, "data_collector")
    broker = make_broker(nats_settings, service="bench")
    await broker.connect()
    await ensure_streams(broker, bus)
    payloads = bodies(n)
    fleet = ServiceFleet(real, namespace, Path(tempfile.mkdtemp(prefix="bench-collector-")))
    fleet.extra_env.update(
        {
            "MODELOPS_FLUSH_ROWS": "25000",
            "MODELOPS_FLUSH_INTERVAL_S": "2",
            "MODELOPS_FETCH_BATCH": "2000",
            "MODELOPS_LOG__LEVEL": "WARNING",
        }
    )
    nc = await nats.connect(real.nats_url)
    try:
        js = nc.jetstream()
        subject = bus.subject(PredictionLogged)
        t_pub0 = time.perf_counter()
        for i in range(0, n, PUBLISH_WINDOW):  # acknowledged publishes, a window in flight
            chunk = payloads[i : i + PUBLISH_WINDOW]
            await asyncio.gather(*(js.publish(subject, body, timeout=30) for body in chunk))
        publish_s = time.perf_counter() - t_pub0
        stored = (await js.stream_info(bus.predictions_stream)).state.messages
        fleet.start("data_collector")  # the backlog is consumed from here on
        durable = bus.durable(PredictionLogged)
        first = await js.consumer_info(bus.predictions_stream, durable)
        t0 = time.perf_counter()
        backlog = first.num_pending + first.num_ack_pending
        done = None
        while time.perf_counter() - t0 < WAIT_S:
            info = await js.consumer_info(bus.predictions_stream, durable)
            if not info.num_pending and not info.num_ack_pending:
                done = time.perf_counter()
                break
            await asyncio.sleep(0.05)
        rows, unique = await count_rows(real, namespace)
    finally:
        fleet.stop_all()
        await nc.close()
        await delete_streams(broker, bus)
        await broker.stop()
        await cleanup(real, namespace)
    rate = backlog / (done - t0) if done else 0.0
    print(f"{'metric':<36}{'value':>16}")
    print(f"{'events published (acked)':<36}{n:>16,}")
    print(f"{'events in stream':<36}{stored:>16,}")
    print(f"{'publish rate (events/s)':<36}{n / publish_s:>16,.0f}")
    print(f"{'backlog when collector ready':<36}{backlog:>16,}")
    print(f"{'backlog drained (s)':<36}{(done - t0) if done else float('nan'):>16.2f}")
    print(f"{'sustained ingest (records/s)':<36}{rate:>16,.0f}")
    print(f"{'rows in Parquet / unique ids':<36}{f'{rows:,} / {unique:,}':>16}")
    print(f"{'goal >= 20,000 records/s':<36}{'met' if rate >= 20000 else 'NOT met':>16}")


def _store(real, namespace: str) -> MinioObjectStore:  # type: ignore[no-untyped-def]  # Stack
    from pydantic import SecretStr

    settings = ObjectStoreSettings(
        endpoint=real.s3_endpoint,
        access_key=SecretStr(real.s3_access_key),
        secret_key=SecretStr(real.s3_secret_key),
        bucket=f"{namespace}-data-collector",
    )
    return MinioObjectStore(settings)


async def count_rows(real, namespace: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    store = _store(real, namespace)
    total, ids = 0, set()
    for key in await store.list("collected/"):
        data = b"".join([c async for c in store.get_stream(key)])
        column = pq.read_table(io.BytesIO(data), columns=["request_id"]).column(0)
        total += len(column)
        ids.update(column.to_pylist())
    return total, len(ids)


async def cleanup(real, namespace: str) -> None:  # type: ignore[no-untyped-def]  # Stack
    store = _store(real, namespace)
    for key in await store.list(""):
        await store.delete(key)
    await asyncio.to_thread(store.client.remove_bucket, store.bucket)
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(real.mongo_url)
    await client.drop_database(f"{namespace}_data_collector")
    await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    asyncio.run(run(args.events))


if __name__ == "__main__":
    main()

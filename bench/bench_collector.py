"""Data collector benchmark: sustained ingest rate from the predictions stream into Parquet.

One command: `uv run python bench/bench_collector.py [--events 200000] [--per-message 256]`
(local stack running). Bounded: a fixed number of records, 90 s for the collector to start and
60 s for it to drain the stream; 127.0.0.1 only. The collector runs as its own process (as in
production); this process publishes the messages the gateway would publish for `--events`
sampled requests (its own `to_messages`:
`--per-message` requests to one deployment per message, as its batches are under load; 1 = one
request per message, as at a trickle) to the predictions stream, starts the collector and times
from its first delivery until its durable consumer has nothing pending or unacknowledged (a
message is acknowledged only once every Parquet object holding its rows is stored, files of
5,000 rows or 1 s), and finally counts the rows in the bucket. Rates are records (requests) per
second: over the whole drain (its last files wait up to 1 s), and between 10% and 90% of the
messages acked (the sustained rate; needs a run of several flushes, e.g. 200,000 records).
"""

import argparse
import asyncio
import contextlib
import io
import json
import tempfile
import time
import uuid
from pathlib import Path

import nats
import pyarrow.parquet as pq  # type: ignore[import-untyped]  # no type information shipped
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from modelops_contracts.events import PredictionLogged
from modelops_scoring_gateway.sampling import Record, to_messages
from modelops_servicekit.bus import Bus, ensure_streams, make_broker
from modelops_servicekit.objects import MinioObjectStore
from modelops_servicekit.settings import NatsSettings, ObjectStoreSettings
from modelops_testkit.cleanup import remove_namespace
from modelops_testkit.processes import ServiceFleet
from modelops_testkit.servers import stack

START_S = 90.0
WAIT_S = 60.0
PUBLISH_WINDOW = 500
ENDPOINTS, VERSIONS = 4, 2


def messages(n: int, per_message: int) -> list[bytes]:
    """N distinct requests (8 numeric features, one scalar prediction) over 4 endpoints x 2
    versions, as the gateway's PredictionLogged payloads of per_message requests each."""
    now = time.time() - 60
    out: list[bytes] = []
    for m, first in enumerate(range(0, n, per_message)):
        endpoint, version = f"ep{m % ENDPOINTS}", str(1 + m % VERSIONS)
        chunk: list[Record] = []
        for i in range(first, min(n, first + per_message)):
            inputs = json.dumps({f"x{j}": (i * 7 + j) % 100 / 10 for j in range(8)}).encode()
            outputs = json.dumps([i % 2]).encode()
            chunk.append((f"r{i}", endpoint, "blue", "m", version, inputs, outputs, 2.5, 200,
                          now + i * 1e-6, True))  # fmt: skip
        out.extend(body for _, body in to_messages(chunk))
    return out


async def publish(js: JetStreamContext, subject: str, payloads: list[bytes]) -> float:
    """Acknowledged publishes, a window in flight; the seconds it took."""
    t0 = time.perf_counter()
    for i in range(0, len(payloads), PUBLISH_WINDOW):
        chunk = payloads[i : i + PUBLISH_WINDOW]
        await asyncio.gather(*(js.publish(subject, body, timeout=30) for body in chunk))
    return time.perf_counter() - t0


async def first_delivery(js: JetStreamContext, stream: str, durable: str) -> float:
    """Wait for the collector to start and take its first message: when it did."""
    deadline = time.perf_counter() + START_S
    while time.perf_counter() < deadline:
        with contextlib.suppress(NotFoundError):  # the consumer is made as the intake starts
            if (await js.consumer_info(stream, durable)).delivered.consumer_seq:
                return time.perf_counter()
        await asyncio.sleep(0.01)
    raise TimeoutError("the collector never took a message")


async def drain(
    js: JetStreamContext, stream: str, durable: str, backlog: int
) -> tuple[float, float]:
    """From the first delivery until all backlog messages are acked: (total s, 10%-90% s)."""
    t0 = await first_delivery(js, stream, durable)
    marks: dict[float, float] = {}
    while (now := time.perf_counter()) - t0 < WAIT_S:
        info = await js.consumer_info(stream, durable)
        left = info.num_pending + info.num_ack_pending
        for share in (0.1, 0.9):
            if share not in marks and backlog - left >= share * backlog:
                marks[share] = now
        if not left:
            return now - t0, marks[0.9] - marks[0.1]
        await asyncio.sleep(0.02)
    return float("nan"), float("nan")


async def run(n: int, per_message: int) -> None:
    real = stack()
    namespace = "bench" + uuid.uuid4().hex[:8]
    nats_settings = NatsSettings(url=real.nats_url, namespace=namespace)
    bus = Bus(nats_settings, "data_collector")
    broker = make_broker(nats_settings, service="bench")
    await broker.connect()
    await ensure_streams(broker, bus)
    payloads = messages(n, per_message)
    fleet = ServiceFleet(real, namespace, Path(tempfile.mkdtemp(prefix="bench-collector-")))
    fleet.extra_env.update(
        {
            "MODELOPS_FLUSH_ROWS": "5000",
            "MODELOPS_FLUSH_INTERVAL_S": "1",
            "MODELOPS_LOG__LEVEL": "WARNING",
        }
    )
    nc = await nats.connect(real.nats_url)
    try:
        js = nc.jetstream()
        publish_s = await publish(js, bus.subject(PredictionLogged), payloads)
        stored = (await js.stream_info(bus.predictions_stream)).state.messages
        starting = asyncio.create_task(asyncio.to_thread(fleet.start, "data_collector"))
        durable = bus.durable(PredictionLogged)
        total_s, mid_s = await drain(js, bus.predictions_stream, durable, stored)
        await starting
        rows, unique = await count_rows(real, namespace)
    finally:
        fleet.stop_all()
        await nc.close()
        await broker.stop()
        await remove_namespace(real, namespace)
    report(n, len(payloads), stored, publish_s, total_s, mid_s, rows, unique)


def report(
    n: int, sent: int, stored: int, publish_s: float, total_s: float, mid_s: float,
    rows: int, unique: int,
) -> None:  # fmt: skip
    per_message = n / sent
    rate = n / total_s
    steady = 0.8 * n / mid_s if mid_s > 0 else float("nan")
    table = [
        ("records (requests) published", f"{n:,}"),
        ("messages published (acked)", f"{sent:,}"),
        ("records per message", f"{per_message:,.1f}"),
        ("messages in stream", f"{stored:,}"),
        ("publish rate (records/s)", f"{n / publish_s:,.0f}"),
        ("first delivery to last ack (s)", f"{total_s:.2f}"),
        ("ingest, whole drain (records/s)", f"{rate:,.0f}"),
        ("ingest, 10%-90% acked (records/s)", f"{steady:,.0f}"),
        ("ingest, whole drain (messages/s)", f"{sent / total_s:,.0f}"),
        ("rows in Parquet / unique ids", f"{rows:,} / {unique:,}"),
        ("goal >= 20,000 records/s, sustained", "met" if steady >= 20000 else "NOT met"),
        ("... and over the whole drain", "met" if rate >= 20000 else "NOT met"),
    ]
    print(f"{'metric':<38}{'value':>18}")
    for name, value in table:
        print(f"{name:<38}{value:>18}")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="records (requests)")
    parser.add_argument("--per-message", type=int, default=256, help="records per message")
    args = parser.parse_args()
    asyncio.run(run(args.events, max(1, args.per_message)))


if __name__ == "__main__":
    main()

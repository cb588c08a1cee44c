"""Notifier benchmark: sustained delivery rate and event-to-delivery latency to a local receiver.

One command: `uv run python bench/bench_notifier.py` (local stack running). Bounded: a fixed
number of events, every wait capped; targets 127.0.0.1 only. The notifier runs as its own process
(as in production), the receiver in another, this process publishes real events on the bus.
"""

import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import statistics
import tempfile
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
from pymongo import AsyncMongoClient
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from modelops_contracts.events import ModelVersionRegistered
from modelops_contracts.types import Framework
from modelops_servicekit.bus import (
    Bus,
    NatsEventPublisher,
    ensure_streams,
    make_broker,
)
from modelops_servicekit.settings import NatsSettings
from modelops_testkit.cleanup import remove_namespace
from modelops_testkit.processes import ServiceFleet, free_port
from modelops_testkit.servers import stack

SUBSCRIPTIONS = 20
LATENCY_EVENTS = 150  # published 20/s: 3 000 deliveries at a healthy, steady pace
LATENCY_RATE = 20.0
BURST_EVENTS = 500  # 10 000 deliveries as fast as the bus takes them
DEADLINE_S = 45.0
GOAL_RATE, GOAL_P99_MS = 2000.0, 50.0


class _Receiver(asyncio.Protocol):
    """Minimal HTTP/1.1 keep-alive server: 204 to every POST, records (id, receipt time)."""

    def __init__(self, seen: list[tuple[str, float, str, str, bytes]]) -> None:
        self.seen, self.buf = seen, b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:
            head = self.buf[:end].decode("latin-1").split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
            length = int(headers.get("content-length", "0"))
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4 : end + 4 + length]
            self.buf = self.buf[end + 4 + length :]
            at = time.time()
            ce_id = json.loads(body)["id"]
            self.seen.append(
                (
                    ce_id,
                    at,
                    headers["webhook-id"],
                    headers["webhook-timestamp"] + " " + headers["webhook-signature"],
                    body,
                )
            )
            self.transport.write(b"HTTP/1.1 204 No Content\r\n\r\n")  # type: ignore[attr-defined]


def receiver_main(port: int, conn: Connection) -> None:
    """Serve until told to stop, then send back what was received."""

    async def main() -> None:
        seen: list[tuple[str, float, str, str, bytes]] = []
        server = await asyncio.get_running_loop().create_server(
            lambda: _Receiver(seen), "127.0.0.1", port
        )
        conn.send("ready")
        while await asyncio.to_thread(conn.recv) == "count":  # a worker thread waits
            conn.send(len(seen))
        server.close()
        sample = seen[:: max(1, len(seen) // 50)]
        conn.send(([(i, t, w) for i, t, w, _, _ in seen], [(w, s, b) for _, _, w, s, b in sample]))

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


def registered(version: int, model: str = "bench") -> ModelVersionRegistered:
    return ModelVersionRegistered(
        model_name=model,
        version=version,
        artifact_uri=f"s3://models/{model}/{version}/",
        content_digest="0" * 64,
        framework=Framework.ONNX,
    )


async def publish(
    publisher: NatsEventPublisher,
    events: list[ModelVersionRegistered],
    rate: float | None,
    sent: dict[str, float],
) -> None:
    async def one(event: ModelVersionRegistered) -> None:
        sent[str(event.event_id)] = time.time()
        await publisher.publish(event)

    if rate is None:
        for i in range(0, len(events), 50):
            await asyncio.gather(*(one(e) for e in events[i : i + 50]))
        return
    start = time.monotonic()
    for i, event in enumerate(events):
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        await one(event)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run() -> None:
    real = stack()
    namespace = "bench" + uuid.uuid4().hex[:8]
    nats = NatsSettings(url=real.nats_url, namespace=namespace)
    bus = Bus(nats, "bench")
    broker = make_broker(nats, service="registry")
    await broker.connect()
    await ensure_streams(broker, bus)
    port = free_port()
    parent, child = mp.Pipe()
    rec = mp.Process(target=receiver_main, args=(port, child), daemon=True)
    rec.start()
    assert parent.recv() == "ready"
    fleet = ServiceFleet(real, namespace, Path(tempfile.mkdtemp(prefix="bench-notifier-")))
    fleet.extra_env.update(
        {
            "MODELOPS_DELIVERY__ALLOW_PRIVATE": json.dumps(["127.0.0.1/32"]),
            "MODELOPS_LOG__LEVEL": "WARNING",
        }
    )
    try:
        (notifier,) = fleet.start("notifier")
        secrets: dict[str, str] = {}
        async with httpx.AsyncClient(base_url=notifier.url) as http:
            for i in range(SUBSCRIPTIONS):
                body = {
                    "url": f"http://127.0.0.1:{port}/hooks/{i}",
                    "allow_insecure": True,
                    "subjects": ["models/bench"],
                }
                resp = (await http.post("/v1/subscriptions", json=body)).raise_for_status()
                secrets[resp.json()["id"]] = resp.json()["secret"]
        await asyncio.sleep(1.5)  # the consumer is attached and idle
        publisher = NatsEventPublisher(broker, bus)
        baseline = await infra_baseline(real.mongo_url, namespace, publisher)
        sent: dict[str, float] = {}
        lat_events = [registered(v) for v in range(1, LATENCY_EVENTS + 1)]
        burst_events = [registered(v) for v in range(10_000, 10_000 + BURST_EVENTS)]
        deadline = time.monotonic() + DEADLINE_S
        await publish(publisher, lat_events, LATENCY_RATE, sent)
        await asyncio.sleep(1.0)
        burst_start = time.time()
        await publish(publisher, burst_events, None, sent)
        burst_published = time.time()
        want = (LATENCY_EVENTS + BURST_EVENTS) * SUBSCRIPTIONS
        while time.monotonic() < deadline:  # ask the receiver how many it has so far
            await asyncio.sleep(0.5)
            parent.send("count")
            if await asyncio.to_thread(parent.recv) >= want:
                break
        await asyncio.sleep(0.5)  # any duplicate arriving late is still counted
        parent.send("stop")
        seen: list[tuple[str, float, str]]
        sample: list[tuple[str, str, bytes]]
        seen, sample = parent.recv()
    finally:
        fleet.stop_all()
        await asyncio.sleep(1.0)  # the notifier's connections are gone before the drop
        await broker.stop()
        await remove_namespace(real, namespace)
        rec.join(timeout=5)
    report(
        seen, sample, sent, lat_events, burst_events, burst_start, burst_published, want, secrets
    )
    print(
        f"context: JetStream publish ack p50 {baseline[0]:.1f} ms, "
        f"FerretDB 20-doc insert p50 {baseline[1]:.1f} ms, load average {os.getloadavg()[0]:.1f}"
    )


async def infra_baseline(
    mongo_url: str, namespace: str, publisher: NatsEventPublisher
) -> tuple[float, float]:
    """How fast the shared stack answers right now (the notifier cannot beat it)."""
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_url)
    coll = client[f"{namespace}_notifier"]["bench_probe"]
    publish_ms, insert_ms = [], []
    for i in range(10):
        started = time.perf_counter()
        await publisher.publish(registered(i + 1, model="probe"))  # matches no subscription
        publish_ms.append((time.perf_counter() - started) * 1000)
        docs: list[dict[str, object]] = [
            {"_id": uuid.uuid4().hex, "body": "x" * 700} for _ in range(20)
        ]
        started = time.perf_counter()
        await coll.insert_many(docs)
        insert_ms.append((time.perf_counter() - started) * 1000)
    await client.close()
    return statistics.median(publish_ms), statistics.median(insert_ms)


def report(
    seen: list[tuple[str, float, str]],
    sample: list[tuple[str, str, bytes]],
    sent: dict[str, float],
    lat_events: list[ModelVersionRegistered],
    burst_events: list[ModelVersionRegistered],
    burst_start: float,
    burst_published: float,
    want: int,
    secrets: dict[str, str],
) -> None:
    """Print the table against the goals."""
    lat_ids = {str(e.event_id) for e in lat_events}
    burst_ids = {str(e.event_id) for e in burst_events}
    latencies = [(t - sent[i]) * 1000 for i, t, _ in seen if i in lat_ids]
    burst_times = [t for i, t, _ in seen if i in burst_ids]
    ids = [w for _, _, w in seen]
    rate = len(burst_times) / (max(burst_times) - burst_start) if burst_times else 0.0
    verified = 0
    for webhook_id, stamp_sig, body in sample:
        stamp, sig = stamp_sig.split(" ", 1)
        headers = {"webhook-id": webhook_id, "webhook-timestamp": stamp, "webhook-signature": sig}
        for secret in secrets.values():
            with contextlib.suppress(WebhookVerificationError):
                Webhook(secret).verify(body, headers)
                verified += 1
                break
    rows = [
        ("deliveries received / expected", f"{len(seen)} / {want}", "all", len(seen) == want),
        ("duplicate webhook-ids", f"{len(ids) - len(set(ids))}", "0", len(ids) == len(set(ids))),
        (
            "signatures verified (sample)",
            f"{verified} / {len(sample)}",
            "all",
            verified == len(sample),
        ),
        (
            "sustained rate (burst), deliveries/s",
            f"{rate:,.0f}",
            f">= {GOAL_RATE:,.0f}",
            rate >= GOAL_RATE,
        ),
        (
            "latency p50 (steady 400/s), ms",
            f"{statistics.median(latencies):.1f}" if latencies else "-",
            "",
            True,
        ),
        (
            "latency p99 (steady 400/s), ms",
            f"{pct(latencies, 0.99):.1f}" if latencies else "-",
            f"< {GOAL_P99_MS:.0f}",
            bool(latencies) and pct(latencies, 0.99) < GOAL_P99_MS,
        ),
        ("burst publish time, s", f"{burst_published - burst_start:.2f}", "", True),
    ]
    print(f"\nnotifier benchmark: {SUBSCRIPTIONS} subscriptions, cpu={os.cpu_count()}")
    print(f"{'metric':40} {'measured':>16} {'goal':>10}  ok")
    for name, value, goal, ok in rows:
        print(f"{name:40} {value:>16} {goal:>10}  {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    asyncio.run(run())

"""Gateway throughput with prediction collection on vs off (goal: under 5% loss).

Run: `uv run python bench/bench_collection.py [--seconds 3] [--concurrency 8,64] [--rounds 4]`
(needs the local stack: `eval "$(bash infra/local.sh env)"`).

The setup of bench_gateway.py (a tiny ONNX model server and the gateway share core 1, the load
generator runs on core 0; its stand-in deployer routes endpoint `bench`, collection off), plus an
endpoint `logged` on the same model server announced on the bus as the deployer does, with data
collection on at sample rate 1: every request becomes a logged prediction, published by the
gateway to the predictions stream in its batched PredictionLogged messages.
Each concurrency level runs off and on `--rounds` times each, in ABBA order, each run bounded in
time; the table shows medians of throughput, latency and the gateway process's CPU time per
request (less sensitive than throughput to what else runs on the shared cores). The gateway's
counters then show how many predictions it published and dropped, and the stream how many
messages carried them. Last, the logging path alone (the gateway's encoder and sender, real NATS)
is timed in this process, batched vs one message per request, against the gateway's CPU per
request. The collector does not run here (its cost is bench_collector.py's); NATS is the shared
stack's server.
"""

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import httpx

from modelops_testkit.processes import free_port

sys.path.insert(0, str(Path(__file__).parent))
from bench_gateway import (
    BODY,
    LOAD_CORE,
    cpu_seconds,
    stand_in_deployer,
    start,
    wait_ready,
    write_model,
)
from bench_loadgen import LoadResult, run_load

from modelops_contracts.events import DeploymentStateChanged, EndpointUpdated
from modelops_contracts.types import DeploymentState
from modelops_scoring_gateway.app import prediction_sender
from modelops_scoring_gateway.sampling import Record, to_message, to_messages
from modelops_servicekit.bus import Bus, NatsEventPublisher, delete_streams, make_broker
from modelops_servicekit.runtime import Runtime
from modelops_servicekit.settings import NatsSettings

ENDPOINTS = {"bench": False, "logged": True}  # endpoint -> data collection
BATCH = 256  # the gateway's default prediction_batch
PATH_REQUESTS = 20_000


def nats_settings(namespace: str) -> NatsSettings:
    url = os.environ.get("MODELOPS_NATS__URL", "nats://127.0.0.1:4222")
    return NatsSettings(url=url, namespace=namespace)


async def announce_logged(namespace: str, model_url: str) -> None:
    """Publish, as the deployer would, a `logged` endpoint on the same model server with data
    collection on (bench_gateway's stand-in deployer serves `bench`, collection off)."""
    settings = nats_settings(namespace)
    broker = make_broker(settings, service="deployer")
    await broker.connect()
    try:
        events = NatsEventPublisher(broker, Bus(settings, "deployer"))
        await events.publish(DeploymentStateChanged(
            deployment_name="logged", endpoint_name="logged", model_name="bench", version=1,
            state=DeploymentState.HEALTHY, upstreams=[model_url], max_concurrency=256,
            max_queue_wait_s=5.0, generation=1, data_collection=True, sample_rate=1.0,
        ))  # fmt: skip
        await events.publish(EndpointUpdated(
            endpoint_name="logged", traffic={"logged": 100}, auth_mode="none", generation=1
        ))  # fmt: skip
    finally:
        await broker.stop()


def wait_routed(gateway: str, log: Path) -> bytes:
    """Wait until both endpoints answer; the model's answer (what the gateway logs)."""
    deadline = time.monotonic() + 20
    for name in ENDPOINTS:
        url = f"{gateway}/endpoints/{name}/score"
        while (answer := httpx.post(url, content=BODY)).status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} never routed: {answer.text}\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
    return answer.content


def counter(metrics: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", metrics, re.M)
    return float(match.group(1)) if match else float("nan")


@dataclass(frozen=True)
class Run:
    """One bounded run: what the load generator saw, and the gateway's CPU per request."""

    load: LoadResult
    cpu_us: float


Runs = tuple[int, list[Run], list[Run]]  # concurrency, runs with collection off, on


def one_run(url: str, concurrency: int, seconds: float, pid: int) -> Run:
    before = cpu_seconds(pid)
    load = run_load(url, BODY, concurrency, seconds, LOAD_CORE)
    requests = load.rps * seconds
    return Run(load, 1e6 * (cpu_seconds(pid) - before) / requests if requests else float("nan"))


def measure(gateway: str, pid: int, levels: list[int], seconds: float, rounds: int) -> list[Runs]:
    """Per level: a warm-up of each endpoint, then off/on runs in ABBA order (drift cancels)."""
    rows = []
    for c in levels:
        runs: dict[str, list[Run]] = {name: [] for name in ENDPOINTS}
        for name in ENDPOINTS:
            run_load(f"{gateway}/endpoints/{name}/score", BODY, c, 1.0, LOAD_CORE)  # warm-up
        for i in range(rounds):
            for name in ENDPOINTS if i % 2 == 0 else reversed(ENDPOINTS):
                url = f"{gateway}/endpoints/{name}/score"
                runs[name].append(one_run(url, c, seconds, pid))
        rows.append((c, runs["bench"], runs["logged"]))
    return rows


@dataclass(frozen=True)
class PathCost:
    """The logging path alone in this process: CPU microseconds per logged request."""

    batched_us: float
    per_request_us: float
    stream_messages: int


async def logging_path(namespace: str, answer: bytes | None, n: int) -> PathCost | None:
    """Count the gateway's stream messages, then time the gateway's own encoder and sender (the
    code its PredictionLog.flush runs) on n requests, batched vs one message per request; in any
    case delete the run's streams. None when the gateway never answered."""
    settings = nats_settings(namespace)
    bus = Bus(settings, "scoring_gateway")
    broker = make_broker(settings, service="scoring_gateway")
    await broker.connect()
    try:
        if answer is None:
            return None
        js = broker.connection.jetstream()
        count = int((await js.stream_info(bus.predictions_stream)).state.messages)
        runtime = SimpleNamespace(bus=bus, broker=broker, service="scoring_gateway")
        send = prediction_sender(cast(Runtime, runtime))
        at = time.time()
        records: list[Record] = [(uuid.uuid4().hex, "logged", "logged", "bench", "1", BODY, answer,
                                  1.0, 200, at + i * 1e-6) for i in range(n)]  # fmt: skip
        costs = []
        for encode in (to_messages, lambda rs: [to_message(r) for r in rs]):
            t0 = time.process_time()
            for i in range(0, n, BATCH):
                await send(encode(records[i : i + BATCH]))
            costs.append(1e6 * (time.process_time() - t0) / n)
        return PathCost(costs[0], costs[1], count)
    finally:
        await delete_streams(broker, bus)
        await broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", default="8,64")
    parser.add_argument("--rounds", type=int, default=4)
    opts = parser.parse_args()
    levels = [int(c) for c in opts.concurrency.split(",")]
    namespace = "benchcol" + uuid.uuid4().hex[:6]
    procs, answer = [], None
    with tempfile.TemporaryDirectory() as tmp:
        folder, log = write_model(Path(tmp)), Path(tmp) / "gateway.log"
        try:
            model_port, gateway_port = free_port(), free_port()
            model = f"http://127.0.0.1:{model_port}"
            procs.append(start([sys.executable, "-m", "modelops_modelserver", "--model-dir",
                                str(folder), "--host", "127.0.0.1", "--port", str(model_port),
                                "--max-pending", "4096", "--max-concurrency", "64"],
                               dict(os.environ), Path(tmp) / "model.log"))  # fmt: skip
            wait_ready(model + "/v2/health/ready", procs[-1])
            env = {**os.environ, "MODELOPS_NATS__NAMESPACE": namespace,
                   "MODELOPS_MONGO__DATABASE": "benchgw_scoring_gateway",
                   "MODELOPS_OBJECTS__BUCKET": "benchgw-scoring-gateway",
                   "MODELOPS_HTTP__PORT": str(gateway_port),
                   "MODELOPS_DEPLOYER_URL": stand_in_deployer(model),
                   "MODELOPS_LOG__LEVEL": "WARNING"}  # fmt: skip
            procs.append(start([sys.executable, "-m", "modelops_scoring_gateway"], env, log))
            gateway = f"http://127.0.0.1:{gateway_port}"
            wait_ready(gateway + "/health/ready", procs[-1])
            asyncio.run(announce_logged(namespace, model))
            answer = wait_routed(gateway, log)
            rows = measure(gateway, procs[-1].pid, levels, opts.seconds, opts.rounds)
            time.sleep(1.0)  # the last batch of predictions leaves
            metrics = httpx.get(gateway + "/metrics").text
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(20)
            path = asyncio.run(logging_path(namespace, answer, PATH_REQUESTS))
    assert path is not None
    print_table(rows)
    published = counter(metrics, "modelops_gateway_predictions_published_total")
    dropped = counter(metrics, 'modelops_gateway_dropped_total{kind="prediction"}')
    per_message = published / max(path.stream_messages, 1)
    print(f"predictions published {published:,.0f}, dropped {dropped:,.0f}, in "
          f"{path.stream_messages:,} stream messages ({per_message:,.1f} per message)")  # fmt: skip
    off_cpu = statistics.median(r.cpu_us for _, off, _ in rows for r in off)
    print(f"logging path alone ({PATH_REQUESTS:,} requests, this process, real NATS): "
          f"{path.batched_us:.1f} us CPU per request batched, {path.per_request_us:.1f} us as one "
          f"message per request; vs {off_cpu:.0f} us gateway CPU per request with collection off: "
          f"{100 * path.batched_us / (off_cpu + path.batched_us):.1f}% of the gateway's CPU "
          f"(one message per request: "
          f"{100 * path.per_request_us / (off_cpu + path.per_request_us):.1f}%)")  # fmt: skip


def _medians(runs: list[Run]) -> tuple[float, float, float, float]:
    loads = [r.load for r in runs]
    return (statistics.median(r.rps for r in loads), statistics.median(r.p50_ms for r in loads),
            statistics.median(r.p99_ms for r in loads),
            statistics.median(r.cpu_us for r in runs))  # fmt: skip


def print_table(rows: list[Runs]) -> None:
    cols = f"{'rps':>7} {'p50 ms':>7} {'p99 ms':>7} {'cpu us':>6}"
    head = (f"{'conc':>5} | off: {cols} | on: {cols} | {'loss %':>6} {'cpu +%':>6} {'err':>4} | "
            "each run's rps off / on")  # fmt: skip
    print(head)
    print("-" * len(head))
    for c, off, on in rows:
        (off_rps, off_p50, off_p99, off_cpu), (on_rps, on_p50, on_p99, on_cpu) = (
            _medians(off), _medians(on))  # fmt: skip
        loss = 100 * (1 - on_rps / off_rps) if off_rps else float("nan")
        cpu = 100 * (on_cpu / off_cpu - 1) if off_cpu else float("nan")
        errors = sum(r.load.errors for r in off + on)
        each = " ".join(f"{r.load.rps:.0f}" for r in off) + " / "
        each += " ".join(f"{r.load.rps:.0f}" for r in on)
        print(f"{c:>5} | off: {off_rps:>7.0f} {off_p50:>7.3f} {off_p99:>7.3f} {off_cpu:>6.0f} | "
              f"on: {on_rps:>7.0f} {on_p50:>7.3f} {on_p99:>7.3f} {on_cpu:>6.0f} | "
              f"{loss:>6.1f} {cpu:>6.1f} {errors:>4} | {each}")  # fmt: skip
    print(
        "loss % = 1 - on/off throughput (medians; goal: under 5%); cpu us = gateway CPU "
        "microseconds per request, cpu +% = its increase with collection on"
    )


if __name__ == "__main__":
    main()

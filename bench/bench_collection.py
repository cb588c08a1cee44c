"""Gateway throughput with prediction collection on vs off (goal: under 5% loss).

Run: `uv run python bench/bench_collection.py [--seconds 30] [--concurrency 8,64] [--rounds 5]`
(needs the local stack: `eval "$(bash infra/local.sh env)"`, and wrk).

The setup of bench_gateway.py (a tiny ONNX model server and the gateway share core 1, the load
generator runs on core 0), with three endpoints on the same model server announced on the bus as
the deployer does, identical but for data collection: `plain` and `twin` (off) and `logged` (on,
sample rate 1: every request becomes a logged prediction, published by the gateway to the
predictions stream in its batched PredictionLogged messages).
Separate runs on this machine differ by up to +-15% from one to the next (other tenants, the
host's steal time), far more than the effect measured. So each round is one run that takes the
endpoints in turn, SLICE_S each, for `--seconds`: all three see the same moments of the machine,
and the loss is logged's throughput against plain's within the round (the first turn of
each round is a warm-up). `twin` against `plain`
shows what the method reads when nothing differs. The gateway's counters then show how many
predictions it published and dropped, and the stream how many messages carried them. Last, the
logging path alone (the gateway's encoder and sender, real NATS) is timed in this process,
batched vs one message per request, against the gateway's CPU per request. The collector does
not run here (its cost is bench_collector.py's); NATS is the shared stack's server, moved to the
load generator's core while the rounds run.
"""

import argparse
import asyncio
import contextlib
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import httpx

from modelops_testkit.cleanup import remove_namespace
from modelops_testkit.processes import free_port
from modelops_testkit.servers import stack

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
from bench_loadgen import Interleaved, run_interleaved, run_load

from modelops_contracts.events import DeploymentStateChanged, EndpointUpdated
from modelops_contracts.types import DeploymentState
from modelops_scoring_gateway.app import prediction_sender
from modelops_scoring_gateway.sampling import Record, to_message, to_messages
from modelops_scoring_gateway.settings import ScoringGatewaySettings
from modelops_servicekit.bus import Bus, NatsEventPublisher, delete_streams, make_broker
from modelops_servicekit.runtime import Runtime
from modelops_servicekit.settings import NatsSettings

ENDPOINTS = {"plain": False, "twin": False, "logged": True}  # endpoint -> data collection
"""`twin` is `plain` again: its gap to `plain` is what the method reads when nothing differs."""
SLICE_S = 0.5
"""Long beside the gateway's prediction_flush_s (0.2 s): publishing what the last 0-0.2 s of a
`logged` slice buffered lands in the next slice, about a fifth of the publishing cost (the
logging path alone, timed last, bounds it); longer slices let the machine drift more within a
turn."""
BATCH = ScoringGatewaySettings.model_fields["prediction_batch"].default
PATH_REQUESTS = 20_000


def nats_settings(namespace: str) -> NatsSettings:
    url = os.environ.get("MODELOPS_NATS__URL", "nats://127.0.0.1:4222")
    return NatsSettings(url=url, namespace=namespace)


async def announce(namespace: str, model_url: str) -> None:
    """Publish, as the deployer would, the endpoints of ENDPOINTS on the same model server, the
    same but for data collection."""
    settings = nats_settings(namespace)
    broker = make_broker(settings, service="deployer")
    await broker.connect()
    try:
        events = NatsEventPublisher(broker, Bus(settings, "deployer"))
        for name, collect in ENDPOINTS.items():
            await events.publish(DeploymentStateChanged(
                deployment_name=name, endpoint_name=name, model_name="bench", version=1,
                state=DeploymentState.HEALTHY, upstreams=[model_url], max_concurrency=256,
                max_queue_wait_s=5.0, generation=1, data_collection=collect, sample_rate=1.0,
            ))  # fmt: skip
            await events.publish(EndpointUpdated(
                endpoint_name=name, traffic={name: 100}, auth_mode="none", generation=1
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
class Level:
    """One concurrency level: the interleaved rounds, and the gateway's CPU per request off."""

    concurrency: int
    rounds: list[list[Interleaved]]
    """per round, one result per endpoint of ENDPOINTS (in its order)"""
    off_cpu_us: float
    """the gateway's CPU microseconds per request with collection off (a separate run)"""

    def loss(self, name: str) -> list[float]:
        """Per round, 1 - name/plain throughput in percent."""
        i = list(ENDPOINTS).index(name)
        return [100 * (1 - r[i].rps / r[0].rps) for r in self.rounds]


def off_cpu(url: str, concurrency: int, seconds: float, pid: int) -> float:
    """The gateway's CPU microseconds per request over one run of `url`."""
    before = cpu_seconds(pid)
    load = run_load(url, BODY, concurrency, seconds, LOAD_CORE)
    return 1e6 * (cpu_seconds(pid) - before) / (load.rps * seconds) if load.rps else float("nan")


def measure(gateway: str, pid: int, levels: list[int], seconds: float, rounds: int) -> list[Level]:
    """Per level: a warm-up of each endpoint, then `rounds` runs that take the endpoints in
    turn, SLICE_S each (bench_loadgen.run_interleaved)."""
    paths = [f"/endpoints/{name}/score" for name in ENDPOINTS]
    rows = []
    for c in levels:
        for path in paths[1:]:
            run_load(gateway + path, BODY, c, 1.0, LOAD_CORE)  # warm-up
        cpu = off_cpu(gateway + paths[0], c, 2.0, pid)
        results = [run_interleaved(gateway, paths, BODY, c, seconds, LOAD_CORE, SLICE_S)
                   for _ in range(rounds)]  # fmt: skip
        rows.append(Level(c, results, cpu))
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
                                  1.0, 200, at + i * 1e-6, True) for i in range(n)]  # fmt: skip
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


@contextlib.contextmanager
def nats_off_the_server_core() -> Iterator[str]:
    """Run the stack's NATS server on the load generator's core for the bench (its JetStream
    writes would otherwise take CPU from the gateway and model server under test, as they would
    not where the bus has its own machine); the previous affinity is restored after."""
    state = Path(os.environ.get("MODELOPS_STATE_DIR", Path(__file__).parents[1] / ".state"))
    try:
        pid = int((state / "pids" / "nats.pid").read_text())
        before = os.sched_getaffinity(pid)
        os.sched_setaffinity(pid, {int(LOAD_CORE)})
    except (OSError, ValueError):
        yield "NATS server not found here: left where it runs"
        return
    try:
        yield f"NATS server (pid {pid}) on core {LOAD_CORE}, with the load generator"
    finally:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--concurrency", default="8,64")
    parser.add_argument("--rounds", type=int, default=5)
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
                   "MODELOPS_MONGO__DATABASE": f"{namespace}_scoring_gateway",
                   "MODELOPS_OBJECTS__BUCKET": f"{namespace}-scoring-gateway",
                   "MODELOPS_HTTP__PORT": str(gateway_port),
                   "MODELOPS_DEPLOYER_URL": stand_in_deployer(model),
                   "MODELOPS_LOG__LEVEL": "WARNING"}  # fmt: skip
            procs.append(start([sys.executable, "-m", "modelops_scoring_gateway"], env, log))
            gateway = f"http://127.0.0.1:{gateway_port}"
            wait_ready(gateway + "/health/ready", procs[-1])
            asyncio.run(announce(namespace, model))
            answer = wait_routed(gateway, log)
            with nats_off_the_server_core() as where:
                rows = measure(gateway, procs[1].pid, levels, opts.seconds, opts.rounds)
            time.sleep(1.0)  # the last batch of predictions leaves
            metrics = httpx.get(gateway + "/metrics").text
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(20)
            path = asyncio.run(logging_path(namespace, answer, PATH_REQUESTS))
            asyncio.run(remove_namespace(stack(), namespace))
    assert path is not None
    print(where)
    print_table(rows)
    published = counter(metrics, "modelops_gateway_predictions_published_total")
    dropped = counter(metrics, 'modelops_gateway_dropped_total{kind="prediction"}')
    per_message = published / max(path.stream_messages, 1)
    print(f"predictions published {published:,.0f}, dropped {dropped:,.0f}, in "
          f"{path.stream_messages:,} stream messages ({per_message:,.1f} per message)")  # fmt: skip
    off_cpu = statistics.median(level.off_cpu_us for level in rows)
    print(f"logging path alone ({PATH_REQUESTS:,} requests, this process, real NATS): "
          f"{path.batched_us:.1f} us CPU per request batched, {path.per_request_us:.1f} us as one "
          f"message per request; vs {off_cpu:.0f} us gateway CPU per request with collection off: "
          f"{100 * path.batched_us / (off_cpu + path.batched_us):.1f}% of the gateway's CPU "
          f"(one message per request: "
          f"{100 * path.per_request_us / (off_cpu + path.per_request_us):.1f}%)")  # fmt: skip


def print_table(rows: list[Level]) -> None:
    head = (f"{'conc':>5} | {'plain rps':>9} {'twin rps':>9} {'logged rps':>10} | "
            f"{'loss %':>6} {'rounds':>18} | {'A/A %':>6} {'rounds':>18} | {'err':>4}")  # fmt: skip
    print(head)
    print("-" * len(head))
    for level in rows:
        rps = [statistics.median(r[i].rps for r in level.rounds) for i in range(len(ENDPOINTS))]
        loss, control = level.loss("logged"), level.loss("twin")
        errors = sum(x.errors for r in level.rounds for x in r)
        print(f"{level.concurrency:>5} | {rps[0]:>9.0f} {rps[1]:>9.0f} {rps[2]:>10.0f} | "
              f"{statistics.median(loss):>6.1f} {_each(loss):>18} | "
              f"{statistics.median(control):>6.1f} {_each(control):>18} | {errors:>4}")  # fmt: skip
    print(
        f"loss % = 1 - logged/plain throughput (median of the rounds; goal: under 5%). Each round "
        f"takes the endpoints\nin turn, {SLICE_S:g} s each, so they share the machine's moments; "
        "A/A % = 1 - twin/plain, the same measure\nbetween two endpoints that differ in nothing: "
        "what the method reads as noise."
    )


def _each(values: list[float]) -> str:
    return " ".join(f"{v:.1f}" for v in values)


if __name__ == "__main__":
    main()

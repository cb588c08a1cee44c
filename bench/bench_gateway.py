"""Gateway overhead: client -> gateway -> model server vs client -> model server.

Run: `uv run python bench/bench_gateway.py [--seconds 3] [--rounds 3] [--concurrency 1,8,64]`
(needs the local stack for the gateway's NATS/Mongo/MinIO: `eval "$(bash infra/local.sh env)"`).

A tiny ONNX model (y = 2x) is served by the modelops model server; the gateway routes an
auth-less endpoint to it (its routing snapshot comes from a stand-in deployer API in this
process). The load generator (wrk, else asyncio) runs on core 0; the model server and the
gateway share core 1, so "through the gateway" and "direct" use the same server cores.
The gateway reaches the model server over its frames hop (modelops_modelserver.frames), which
it finds after the warm-up. Each run is bounded in time; each level runs `--rounds` direct/via
pairs in ABBA order, and the table prints medians of p50/p99 and throughput for both paths, and
the median of each pair's throughput share.

Then end to end: bench_modelserver's RandomForest served by the model server behind the
gateway, against `mlflow models serve` of the same model (a separate MLflow virtualenv under
.state/bench, created once; `--no-mlflow` skips it).
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from bench_loadgen import LoadResult, run_load

from modelops_testkit.cleanup import remove_namespace
from modelops_testkit.models import write_onnx_model
from modelops_testkit.processes import free_port
from modelops_testkit.servers import stack

SERVER_CORE, LOAD_CORE = "1", "0"
Pair = tuple[int, LoadResult, LoadResult]
"""(concurrency, direct, through the gateway)"""
Named = tuple[str, int, LoadResult]
"""(server, concurrency, result)"""
BODY = json.dumps({"data": [[1.0, 2.0]]}).encode()


def write_model(folder: Path) -> Path:
    return write_onnx_model(folder, "bench", 1, 2.0)


def stand_in_deployer(model_url: str) -> str:
    """Serves the two deployer queries the gateway makes."""
    routing = {
        "endpoints": [{"endpoint_name": "bench", "traffic": {"main": 100}, "auth_mode": "none",
                       "generation": 1}],
        "deployments": [{"deployment_name": "main", "endpoint_name": "bench",
                         "model_name": "bench", "version": 1, "state": "Healthy",
                         "upstreams": [model_url], "max_concurrency": 256,
                         "max_queue_wait_s": 5.0, "generation": 1}],
    }  # fmt: skip
    payload = json.dumps(routing).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = payload if self.path == "/v1/routing" else b'{"keys_revision":0,"hashes":[]}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(["taskset", "-c", SERVER_CORE, *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip


def namespace_of(tag: str) -> str:
    """The bus namespace, database and bucket prefix of one gateway (removed after the run)."""
    return f"benchgw{tag}"


def behind_gateway(
    model_dir: Path, tmp: Path, procs: list[subprocess.Popen[bytes]], tag: str
) -> tuple[str, str]:
    """A model server for model_dir and a gateway routing endpoint `bench` to it, both on the
    server core; returns (model server URL, gateway URL) once the gateway routes."""
    model_port, gateway_port = free_port(), free_port()
    model = f"http://127.0.0.1:{model_port}"
    procs.append(start([sys.executable, "-m", "modelops_modelserver", "--model-dir",
                        str(model_dir), "--host", "127.0.0.1", "--port", str(model_port),
                        "--max-pending", "4096", "--max-concurrency", "64"],
                       dict(os.environ), tmp / f"model-{tag}.log"))  # fmt: skip
    wait_ready(model + "/v2/health/ready", procs[-1])
    env = {**os.environ, "MODELOPS_NATS__NAMESPACE": namespace_of(tag),
           "MODELOPS_MONGO__DATABASE": f"{namespace_of(tag)}_scoring_gateway",
           "MODELOPS_OBJECTS__BUCKET": f"{namespace_of(tag)}-scoring-gateway",
           "MODELOPS_HTTP__PORT": str(gateway_port),
           "MODELOPS_DEPLOYER_URL": stand_in_deployer(model),
           "MODELOPS_LOG__LEVEL": "WARNING"}  # fmt: skip
    procs.append(start([sys.executable, "-m", "modelops_scoring_gateway"], env,
                       tmp / f"gateway-{tag}.log"))  # fmt: skip
    gateway = f"http://127.0.0.1:{gateway_port}"
    wait_ready(gateway + "/health/ready", procs[-1])
    deadline = time.monotonic() + 20
    while (answer := httpx.get(gateway + "/endpoints/bench/swagger.json")).status_code != 200:
        if time.monotonic() > deadline:
            log = (tmp / f"gateway-{tag}.log").read_text()[-3000:]
            raise RuntimeError(f"gateway never routed: {answer.text}\n{log}")
        time.sleep(0.2)
    return model, gateway


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Point:
    """One concurrency level: both paths (medians over rounds), the server core's CPU per
    request on each, and each round's throughput share."""

    concurrency: int
    direct: LoadResult
    via: LoadResult
    direct_us: float
    """model server CPU per request, direct"""
    via_us: float
    """model server + gateway CPU per request, through the gateway"""
    shares: list[float]
    """per round, through the gateway / direct requests per second"""

    @classmethod
    def of(
        cls, c: int, direct: list[tuple[LoadResult, float]], via: list[tuple[LoadResult, float]]
    ) -> "Point":
        pairs = zip(direct, via, strict=True)
        shares = [v.rps / d.rps if d.rps else float("nan") for (d, _), (v, _) in pairs]
        return cls(c, _median_load([r for r, _ in direct]), _median_load([r for r, _ in via]),
                   statistics.median(u for _, u in direct), statistics.median(u for _, u in via),
                   shares)  # fmt: skip


def _median_load(results: list[LoadResult]) -> LoadResult:
    return LoadResult(statistics.median(r.rps for r in results),
                      statistics.median(r.p50_ms for r in results),
                      statistics.median(r.p99_ms for r in results),
                      sum(r.errors for r in results))  # fmt: skip


def measured(url: str, c: int, seconds: float, pids: list[int]) -> tuple[LoadResult, float]:
    """Load one URL; returns the result and the CPU microseconds per request of `pids`."""
    run_load(url, BODY, c, 1.0, LOAD_CORE)  # warm-up
    before = sum(cpu_seconds(p) for p in pids)
    result = run_load(url, BODY, c, seconds, LOAD_CORE)
    used = sum(cpu_seconds(p) for p in pids) - before
    requests = result.rps * seconds
    return result, 1e6 * used / requests if requests else float("nan")


def overhead(levels: list[int], seconds: float, rounds: int, tmp: Path) -> list[Point]:
    """The tiny model direct and through the gateway, at each concurrency: `rounds` pairs of
    runs in ABBA order (this machine drifts by +-15% between runs); medians, and the median of
    each pair's own share."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        model, gateway = behind_gateway(write_model(tmp), tmp, procs, "tiny")
        paths = {
            "direct": (model + "/score", [procs[0].pid]),
            "via": (gateway + "/endpoints/bench/score", [procs[0].pid, procs[1].pid]),
        }
        points = []
        for c in levels:
            runs: dict[str, list[tuple[LoadResult, float]]] = {"direct": [], "via": []}
            for i in range(rounds):
                for name in ("direct", "via") if i % 2 == 0 else ("via", "direct"):
                    url, pids = paths[name]
                    runs[name].append(measured(url, c, seconds, pids))
            points.append(Point.of(c, runs["direct"], runs["via"]))
        return points
    finally:
        stop_all(procs)


def against_mlflow(
    levels: list[int], seconds: float, tmp: Path
) -> list[tuple[str, int, LoadResult]]:
    """End to end, one RandomForest: client -> gateway -> model server (ONNX) against
    `mlflow models serve` of the same model (sklearn and ONNX flavours), servers on one core."""
    import bench_modelserver as ms

    ms.STATE.mkdir(parents=True, exist_ok=True)
    row = ms.prepare_models()
    mlflow = ms.ensure_mlflow()
    if mlflow is None:
        print("MLflow virtualenv could not be made: end-to-end comparison skipped")
        return []
    body = json.dumps({"inputs": [row]}).encode()
    procs: list[subprocess.Popen[bytes]] = []
    rivals = [c for c in ms.contenders(row, mlflow) if c.name.startswith("mlflow")]
    try:
        targets = []
        for i, rival in enumerate(rivals):
            procs.append(ms.start(rival, ms.PORT + i))
            targets.append((rival.name, f"http://127.0.0.1:{ms.PORT + i}/invocations"))
        model, gateway = behind_gateway(ms.STATE / "onnx", tmp, procs, "rf")
        targets.insert(0, ("gateway -> modelserver", gateway + "/endpoints/bench/invocations"))
        targets.insert(1, ("modelserver direct", model + "/invocations"))
        for i, rival in enumerate(rivals):
            ms.warm(rival, ms.PORT + i, procs[i])
        results = []
        for c in levels:
            for name, url in targets:
                run_load(url, body, c, 1.0, LOAD_CORE)  # warm-up
                results.append((name, c, run_load(url, body, c, seconds, LOAD_CORE)))
        return results
    finally:
        stop_all(procs)


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", default="1,8,64")
    parser.add_argument("--rounds", type=int, default=3, help="direct/via pairs per level")
    parser.add_argument("--no-mlflow", action="store_true", help="skip the MLflow comparison")
    opts = parser.parse_args()
    levels = [int(c) for c in opts.concurrency.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        try:
            rows = overhead(levels, opts.seconds, opts.rounds, Path(tmp))
            e2e = [] if opts.no_mlflow else against_mlflow(levels, opts.seconds, Path(tmp))
        finally:
            for tag in ("tiny", "rf"):
                asyncio.run(remove_namespace(stack(), namespace_of(tag)))
    print_table(rows)
    if e2e:
        print_e2e(e2e)


def print_table(points: list[Point]) -> None:
    head = (f"{'conc':>5} | {'direct rps':>10} {'p50 ms':>7} {'p99 ms':>7} | "
            f"{'gateway rps':>11} {'p50 ms':>7} {'p99 ms':>7} | "
            f"{'p50 +ms':>7} {'tput %':>6} {'err':>4} | {'cpu us/req direct':>17} "
            f"{'via':>5} {'cpu %':>6}")  # fmt: skip
    print(head)
    print("-" * len(head))
    for p in points:
        d, g = p.direct, p.via
        share = 100 * statistics.median(p.shares)
        cpu_share = 100 * p.direct_us / p.via_us
        print(f"{p.concurrency:>5} | {d.rps:>10.0f} {d.p50_ms:>7.3f} {d.p99_ms:>7.3f} | "
              f"{g.rps:>11.0f} {g.p50_ms:>7.3f} {g.p99_ms:>7.3f} | "
              f"{g.p50_ms - d.p50_ms:>7.3f} {share:>6.1f} {d.errors + g.errors:>4} | "
              f"{p.direct_us:>17.1f} {p.via_us:>5.0f} {cpu_share:>6.1f}")  # fmt: skip
    print(
        "\ncpu us/req: the server core's CPU per request (model server; model server + gateway);"
        "\ncpu %: the throughput share through the gateway once the server core is the limit."
        "\ntput %: the median of each round's own share (rounds: --rounds pairs of runs, ABBA);"
        " the other columns are medians.\ngoals: p50 overhead < 1 ms; throughput through the"
        " gateway >= 70% of direct."
    )


def print_e2e(results: list[tuple[str, int, LoadResult]]) -> None:
    print("\nend to end, the same RandomForest (30 features, one row per request), servers on one"
          " core:")  # fmt: skip
    head = f"{'server':28} {'conc':>5} {'rps':>8} {'p50 ms':>8} {'p99 ms':>8} {'err':>5}"
    print(head)
    print("-" * len(head))
    ours = {c: r for name, c, r in results if name.startswith("gateway")}
    for name, c, r in results:
        print(f"{name:28} {c:>5} {r.rps:>8.0f} {r.p50_ms:>8.3f} {r.p99_ms:>8.3f} {r.errors:>5}")
    for name, c, r in results:
        if name == "modelserver direct" and r.rps:
            print(f"through the gateway vs direct at c={c}: {ours[c].rps / r.rps:.0%} of req/s")
        elif not name.startswith("gateway") and r.rps:
            print(f"through the gateway vs {name} at c={c}: {ours[c].rps / r.rps:.1f}x req/s")


if __name__ == "__main__":
    main()

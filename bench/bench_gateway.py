"""Gateway overhead: client -> gateway -> model server vs client -> model server.

Run: `uv run python bench/bench_gateway.py [--seconds 5] [--concurrency 1,8,64]`
(needs the local stack for the gateway's NATS/Mongo/MinIO: `eval "$(bash infra/local.sh env)"`).

A tiny ONNX model (y = 2x) is served by the modelops model server; the gateway routes an
auth-less endpoint to it (its routing snapshot comes from a stand-in deployer API in this
process). The load generator (wrk, else asyncio) runs on core 0; the model server and the
gateway share core 1, so "through the gateway" and "direct" use the same server cores.
Each run is bounded in time; the table prints p50/p99 and throughput for both paths.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import onnx
from onnx import TensorProto, helper

sys.path.insert(0, str(Path(__file__).parent))
from bench_loadgen import LoadResult, run_load

SERVER_CORE, LOAD_CORE = "1", "0"
BODY = json.dumps({"data": [[1.0, 2.0]]}).encode()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_model(folder: Path) -> Path:
    k = helper.make_tensor("k", TensorProto.FLOAT, [1], [2.0])
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "k"], ["y"])],
        "bench",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
        initializer=[k],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(folder / "model.onnx"))
    (folder / "modelserver.json").write_text(json.dumps({"name": "bench", "version": "1"}))
    return folder


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", default="1,8,64")
    opts = parser.parse_args()
    levels = [int(c) for c in opts.concurrency.split(",")]
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_model(Path(tmp))
        try:
            model_port, gateway_port = free_port(), free_port()
            model = f"http://127.0.0.1:{model_port}"
            procs.append(start([sys.executable, "-m", "modelops_modelserver", "--model-dir",
                                str(folder), "--host", "127.0.0.1", "--port", str(model_port),
                                "--max-pending", "4096", "--max-concurrency", "64"],
                               dict(os.environ), Path(tmp) / "model.log"))  # fmt: skip
            wait_ready(model + "/v2/health/ready", procs[-1])
            env = {**os.environ, "MODELOPS_NATS__NAMESPACE": "benchgw",
                   "MODELOPS_MONGO__DATABASE": "benchgw_scoring_gateway",
                   "MODELOPS_OBJECTS__BUCKET": "benchgw-scoring-gateway",
                   "MODELOPS_HTTP__PORT": str(gateway_port),
                   "MODELOPS_DEPLOYER_URL": stand_in_deployer(model),
                   "MODELOPS_LOG__LEVEL": "WARNING"}  # fmt: skip
            procs.append(start([sys.executable, "-m", "modelops_scoring_gateway"], env,
                               Path(tmp) / "gateway.log"))  # fmt: skip
            gateway = f"http://127.0.0.1:{gateway_port}"
            wait_ready(gateway + "/health/ready", procs[-1])
            score = gateway + "/endpoints/bench/score"
            deadline = time.monotonic() + 20
            while (answer := httpx.post(score, content=BODY)).status_code != 200:
                if time.monotonic() > deadline:
                    log = (Path(tmp) / "gateway.log").read_text()[-3000:]
                    raise RuntimeError(f"gateway never routed: {answer.text}\n{log}")
                time.sleep(0.2)
            rows = []
            for c in levels:
                run_load(model + "/score", BODY, c, 1.0, LOAD_CORE)  # warm-up
                direct = run_load(model + "/score", BODY, c, opts.seconds, LOAD_CORE)
                run_load(score, BODY, c, 1.0, LOAD_CORE)
                via = run_load(score, BODY, c, opts.seconds, LOAD_CORE)
                rows.append((c, direct, via))
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(20)
    print_table(rows)


def print_table(rows: list[tuple[int, LoadResult, LoadResult]]) -> None:
    head = (f"{'conc':>5} | {'direct rps':>10} {'p50 ms':>7} {'p99 ms':>7} | "
            f"{'gateway rps':>11} {'p50 ms':>7} {'p99 ms':>7} | "
            f"{'p50 +ms':>7} {'tput %':>6} {'err':>4}")  # fmt: skip
    print(head)
    print("-" * len(head))
    for c, d, g in rows:
        share = 100 * g.rps / d.rps if d.rps else float("nan")
        print(f"{c:>5} | {d.rps:>10.0f} {d.p50_ms:>7.3f} {d.p99_ms:>7.3f} | "
              f"{g.rps:>11.0f} {g.p50_ms:>7.3f} {g.p99_ms:>7.3f} | "
              f"{g.p50_ms - d.p50_ms:>7.3f} {share:>6.1f} {d.errors + g.errors:>4}")  # fmt: skip


if __name__ == "__main__":
    main()

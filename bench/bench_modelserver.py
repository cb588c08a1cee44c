"""Benchmark: the modelops model server against `mlflow models serve` and the ASGI floor.

One command: `uv run python bench/bench_modelserver.py` (about 3 minutes; the first run also
creates an MLflow virtualenv under .state/bench/, which the product never depends on).

A 100-tree RandomForestClassifier on scikit-learn's bundled breast-cancer data (30 features),
converted with skl2onnx, is served by each contender in turn, pinned to one core
(`taskset -c 1`); the load generator (`wrk`, or a built-in asyncio keep-alive client when wrk is
missing) runs on the other core (`taskset -c 0`). Every request carries one row.

Contenders: the modelops model server (ONNX, MLflow `/invocations` and Azure `/score` bodies),
`mlflow models serve` of the sklearn model and of its ONNX conversion (`--env-manager local`),
and the floor: a minimal raw ASGI app calling onnxruntime in-process (uvicorn, uvloop, httptools).
"""

import argparse
import json
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench_loadgen import LoadResult, run_load

ROOT = Path(__file__).resolve().parents[1]
STATE = ROOT / ".state" / "bench" / "modelserver"
MLFLOW_VENV = ROOT / ".state" / "bench" / "mlflow-venv"
MLFLOW_PINS = ["mlflow==3.17.2", "scikit-learn==1.9.1", "onnxruntime==1.31.1", "onnx==1.23.2"]
SERVER_CORE, LOADGEN_CORE = "1", "0"
LEVELS = (1, 8, 64)
PORT = 18900


@dataclass
class Contender:
    """One server to measure: how to start it and where to send requests."""

    name: str
    command: list[str]
    path: str
    body: bytes
    env: dict[str, str]
    ready_path: str = "/ping"


@dataclass
class Row:
    """One measured point."""

    contender: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def prepare_models() -> list[float]:
    """Train and convert the model once; returns the row every request sends."""
    import numpy as np
    from skl2onnx import to_onnx
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    features, labels = load_breast_cancer(return_X_y=True)
    features = features.astype(np.float32)
    model = RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1)
    model.fit(features, labels)
    options = {id(model): {"zipmap": False}}
    onx = to_onnx(model, features[:1], options=options, target_opset={"": 17, "ai.onnx.ml": 3})
    onnx_dir = STATE / "onnx"
    onnx_dir.mkdir(parents=True, exist_ok=True)
    (onnx_dir / "model.onnx").write_bytes(onx.SerializeToString())
    row = [float(v) for v in features[0]]
    meta = {"name": "rf", "version": "1", "sample_input": [row]}
    (onnx_dir / "modelserver.json").write_text(json.dumps(meta))
    (STATE / "model.pkl").write_bytes(pickle.dumps(model))
    np.save(STATE / "sample.npy", features[:20])
    return row


FLOOR_APP = '''
"""The floor: the least an ASGI server can do around onnxruntime."""
import numpy as np, onnxruntime as ort, orjson
opts = ort.SessionOptions()
opts.intra_op_num_threads = 1
opts.inter_op_num_threads = 1
opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
sess = ort.InferenceSession("MODEL", opts, providers=["CPUExecutionProvider"])
OPT = orjson.OPT_SERIALIZE_NUMPY
HEADERS = [(b"content-type", b"application/json")]

async def app(scope, receive, send):
    if scope["type"] != "http":
        msg = await receive()
        if msg["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
        return
    body = b""
    more = True
    while more:
        msg = await receive()
        body += msg.get("body", b"")
        more = msg.get("more_body", False)
    if scope["method"] == "GET":
        out = b"ok"
    else:
        x = np.asarray(orjson.loads(body)["inputs"], dtype=np.float32)
        label, proba = sess.run(None, {"X": x})
        out = orjson.dumps({"predictions": {"label": label, "probabilities": proba}}, option=OPT)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": out})
'''

MLFLOW_SAVE = """
import pickle, sys, numpy as np, onnx, mlflow.sklearn, mlflow.onnx
from mlflow.models import infer_signature
state = sys.argv[1]
model = pickle.load(open(f"{state}/model.pkl", "rb"))
x = np.load(f"{state}/sample.npy")
mlflow.sklearn.save_model(model, f"{state}/mlflow-sklearn",
                          signature=infer_signature(x, model.predict(x)),
                          skops_trusted_types=["sklearn.tree._tree.Tree"])
onx = onnx.load(f"{state}/onnx/model.onnx")
mlflow.onnx.save_model(onx, f"{state}/mlflow-onnx", signature=infer_signature(x))
"""


def ensure_mlflow() -> Path | None:
    """A separate virtualenv with MLflow (created once); None if it cannot be made."""
    python = MLFLOW_VENV / "bin" / "python"
    if not (MLFLOW_VENV / "bin" / "mlflow").exists():
        print("creating the MLflow virtualenv under .state/bench (once)...", flush=True)
        uv = shutil.which("uv")
        if uv is None:
            return None
        made = subprocess.run([uv, "venv", "--python", "3.11", str(MLFLOW_VENV)], check=False)
        pins = [*MLFLOW_PINS, "pandas<3"]
        cmd = [uv, "pip", "install", "--python", str(python), *pins]
        if made.returncode or subprocess.run(cmd, check=False).returncode:
            return None
    for folder in ("mlflow-sklearn", "mlflow-onnx"):
        shutil.rmtree(STATE / folder, ignore_errors=True)
    subprocess.run([str(python), "-c", MLFLOW_SAVE, str(STATE)], check=True)
    return MLFLOW_VENV / "bin" / "mlflow"


def contenders(row: list[float], mlflow: Path | None) -> list[Contender]:
    py = sys.executable
    (STATE / "floor_app.py").write_text(FLOOR_APP.replace("MODEL", str(STATE / "onnx/model.onnx")))
    inputs = json.dumps({"inputs": [row]}).encode()
    data = json.dumps({"data": [row]}).encode()
    uvicorn_flags = ["--loop", "uvloop", "--http", "httptools", "--no-access-log"]
    floor = [py, "-m", "uvicorn", "floor_app:app", "--app-dir", str(STATE), *uvicorn_flags]
    ours = [py, "-m", "modelops_modelserver", "--model-dir", str(STATE / "onnx")]
    env = {"MODELOPS_MODELSERVER_LOG_LEVEL": "WARNING"}
    out = [
        Contender("floor (ASGI + onnxruntime)", floor, "/", inputs, {}, "/"),
        Contender("modelserver /invocations", ours, "/invocations", inputs, env),
        Contender("modelserver /score", ours, "/score", data, env),
    ]
    if mlflow is not None:
        for flavor in ("sklearn", "onnx"):
            cmd = [str(mlflow), "models", "serve", "-m", str(STATE / f"mlflow-{flavor}")]
            cmd += ["--env-manager", "local", "-w", "1"]
            path_env = {"PATH": f"{mlflow.parent}:{os.environ.get('PATH', '')}"}
            out.append(Contender(f"mlflow serve ({flavor})", cmd, "/invocations", inputs, path_env))
    return out


def _wait_ready(port: int, path: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    request = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(request)
                if conn.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"not ready within {timeout_s:g} s")


def start(c: Contender, port: int) -> subprocess.Popen[bytes]:
    """Start one contender on the server core (returns at once)."""
    env = {**os.environ, **c.env, "MODELOPS_MODELSERVER_PORT": str(port)}
    env["MODELOPS_MODELSERVER_HOST"] = "127.0.0.1"
    command = list(c.command)
    if "modelserver" not in c.name:
        command += ["--host", "127.0.0.1", "--port" if "floor" in c.name else "-p", str(port)]
    log = (STATE / f"server-{port}.log").open("wb")
    proc = subprocess.Popen(
        ["taskset", "-c", SERVER_CORE, *command], env=env, stdout=log, stderr=log, cwd=STATE
    )
    log.close()
    return proc


def warm(c: Contender, port: int, proc: subprocess.Popen[bytes]) -> None:
    """Wait until the contender answers, then warm it up (not recorded)."""
    _wait_ready(port, c.ready_path, proc, 120)
    run_load(f"http://127.0.0.1:{port}{c.path}", c.body, 8, 1.0, LOADGEN_CORE)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def measure(cs: list[Contender], duration_s: float, rounds: int) -> list[Row]:
    """All contenders up at once (idle ones cost nothing); rounds interleave them so the noise
    of a shared machine hits every contender alike; each point keeps its median round."""
    procs: dict[str, tuple[int, subprocess.Popen[bytes]]] = {}
    try:
        for i, c in enumerate(cs):  # started together: MLflow takes long to boot
            procs[c.name] = (PORT + i, start(c, PORT + i))
        for c in cs:
            port, proc = procs[c.name]
            try:
                warm(c, port, proc)
            except RuntimeError as exc:
                print(f"  {c.name}: skipped ({exc}; see {STATE}/server-{port}.log)")
                stop(proc)
                del procs[c.name]
        samples: dict[tuple[str, int], list[LoadResult]] = {}
        for r in range(rounds):
            for level in LEVELS:
                for c in cs:
                    if c.name not in procs:
                        continue
                    url = f"http://127.0.0.1:{procs[c.name][0]}{c.path}"
                    res = run_load(url, c.body, level, duration_s, LOADGEN_CORE)
                    samples.setdefault((c.name, level), []).append(res)
            print(f"  round {r + 1}/{rounds} done", flush=True)
    finally:
        for _, proc in procs.values():
            stop(proc)
    rows = []
    for (name, level), results in samples.items():
        mid = sorted(results, key=lambda x: x.rps)[len(results) // 2]
        errors = sum(x.errors for x in results)
        rows.append(Row(name, level, mid.rps, mid.p50_ms, mid.p99_ms, errors))
    order = {c.name: i for i, c in enumerate(cs)}
    return sorted(rows, key=lambda x: (order[x.contender], x.concurrency))


def report(rows: list[Row]) -> int:
    """Print the side-by-side table and the goals; returns 1 if a goal is missed."""
    floor = {r.concurrency: r for r in rows if r.contender.startswith("floor")}
    print()
    header = f"{'server':30} {'c':>3} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
    print(header + f" {'vs floor':>9} {'p50-floor':>10} {'errors':>6}")
    print("-" * (len(header) + 28))
    for r in rows:
        f = floor.get(r.concurrency)
        ratio = f"{r.rps / f.rps:8.1%}" if f and f.rps else "-"
        gap = f"{r.p50_ms - f.p50_ms:+9.3f}" if f else "-"
        line = f"{r.contender:30} {r.concurrency:>3} {r.rps:9.0f} {r.p50_ms:8.3f} {r.p99_ms:8.2f}"
        print(f"{line} {ratio:>9} {gap:>10} {r.errors:>6}")
    ours = {r.concurrency: r for r in rows if r.contender == "modelserver /invocations"}
    if 64 not in ours or 64 not in floor or 1 not in ours or 1 not in floor:
        print("\ngoals: not measured")
        return 1
    share = ours[64].rps / floor[64].rps
    delta = ours[1].p50_ms - floor[1].p50_ms
    ok_share, ok_delta = share >= 0.80, delta <= 0.3
    print(
        f"\ngoal: >= 80% of the floor's req/s at c=64: {share:.1%} {'OK' if ok_share else 'MISS'}"
    )
    print(
        f"goal: p50 within 0.3 ms of the floor at c=1: {delta:+.3f} ms "
        f"{'OK' if ok_delta else 'MISS'}"
    )
    for r in rows:
        if r.contender.startswith("mlflow") and r.concurrency == 64 and r.rps:
            print(f"modelserver vs {r.contender} at c=64: {ours[64].rps / r.rps:.1f}x")
    return 0 if ok_share and ok_delta else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per point and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median kept)")
    parser.add_argument("--no-mlflow", action="store_true", help="skip the MLflow contenders")
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        print("needs two cores (server on core 1, load on core 0)")
        return 2
    STATE.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    row = prepare_models()
    mlflow = None if args.no_mlflow else ensure_mlflow()
    rows = measure(contenders(row, mlflow), args.duration, args.rounds)
    code = report(rows)
    (STATE / "results.json").write_text(json.dumps([asdict(r) for r in rows], indent=2))
    print(f"\n{len(rows)} points in {time.monotonic() - started:.0f} s; results in {STATE}")
    print(textwrap.fill("load generator: " + ("wrk" if shutil.which("wrk") else "asyncio"), 100))
    return code


if __name__ == "__main__":
    sys.exit(main())

"""Load generation for the benchmarks: wrk when installed, else an asyncio keep-alive client.

Both keep HTTP/1.1 connections open, send the same body over and over, and report requests/s,
p50 and p99 latency; each run is bounded in time.
"""

import asyncio
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class LoadResult:
    """What one bounded run measured."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def run_load(url: str, body: bytes, concurrency: int, seconds: float, core: str) -> LoadResult:
    """Drive `url` with `concurrency` connections for `seconds`, the generator on `core`."""
    if shutil.which("wrk"):
        return _wrk(url, body, concurrency, seconds, core)
    return _asyncio_load(url, body, concurrency, seconds, core)


def _wrk(url: str, body: bytes, concurrency: int, seconds: float, core: str) -> LoadResult:
    with tempfile.TemporaryDirectory() as tmp:
        body_file = Path(tmp) / "body"
        body_file.write_bytes(body)
        script = Path(tmp) / "post.lua"
        script.write_text(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f'local f = io.open("{body_file}", "rb"); wrk.body = f:read("*a"); f:close()\n'
        )
        cmd = ["taskset", "-c", core, "wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s"]
        cmd += ["--timeout", "10s", "--latency", "-s", str(script), url]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout
    return _parse_wrk(out)


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    return float(match.group(1)) * UNITS[match.group(2)] if match else float("nan")


def _parse_wrk(out: str) -> LoadResult:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    errors += sum(int(g) for g in sock.groups()) if sock else 0
    return LoadResult(
        float(rps.group(1)) if rps else 0.0,
        _ms(p50.group(1)) if p50 else float("nan"),
        _ms(p99.group(1)) if p99 else float("nan"),
        errors,
    )


def _asyncio_load(url: str, body: bytes, concurrency: int, seconds: float, core: str) -> LoadResult:
    import os

    os.sched_setaffinity(0, {int(core)})
    try:
        return asyncio.run(_drive(url, body, concurrency, seconds))
    finally:
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))


async def _drive(url: str, body: bytes, concurrency: int, seconds: float) -> LoadResult:
    parts = urlsplit(url)
    request = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    errors = [0]
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]  # servers here always send it
                await reader.readexactly(length)
                if not head.startswith(b"HTTP/1.1 2"):
                    errors[0] += 1
                latencies.append((time.perf_counter() - started) * 1000)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    if not latencies:
        return LoadResult(0.0, float("nan"), float("nan"), errors[0])
    cuts = statistics.quantiles(latencies, n=100)
    return LoadResult(len(latencies) / elapsed, cuts[49], cuts[98], errors[0])


INTERLEAVED_LUA = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } modelops_ts;
int clock_gettime(int clk, modelops_ts *tp);
]]
local ts = ffi.new("modelops_ts")
local function now()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end
local paths = {%(paths)s}
local slice = %(slice)f
local f = io.open("%(body)s", "rb"); local payload = f:read("*a"); f:close()
local requests = {}
local t0 = nil
done_by_slice = {}
errors_by_slice = {}

function init(args)
  for i = 1, #paths do
    requests[i] = wrk.format("POST", paths[i], {["Content-Type"] = "application/json"}, payload)
  end
end

function request()
  local t = now()
  if t0 == nil then t0 = t end
  return requests[math.floor((t - t0) / slice) %% #paths + 1]
end

function response(status, headers, body)
  local k = math.floor((now() - t0) / slice)
  done_by_slice[k] = (done_by_slice[k] or 0) + 1
  if status >= 300 then errors_by_slice[k] = (errors_by_slice[k] or 0) + 1 end
end

local threads = {}
function setup(thread) table.insert(threads, thread) end

function done(summary, latency, requests)
  local counts = threads[1]:get("done_by_slice")
  local errors = threads[1]:get("errors_by_slice")
  for k, n in pairs(counts) do
    io.write(string.format("SLICE %%d %%d %%d\\n", k, n, errors[k] or 0))
  end
end
"""


@dataclass(frozen=True)
class Interleaved:
    """One path's share of an interleaved run: requests/s over its own time slices."""

    path: str
    rps: float
    errors: int
    slices: int
    per_slice: list[int]
    """requests completed in each of this path's slices, in order (round by round)"""


def run_interleaved(
    base: str, paths: list[str], body: bytes, concurrency: int, seconds: float, core: str,
    slice_s: float = 0.2,
) -> list[Interleaved]:  # fmt: skip
    """Drive several paths of one server in turn, `slice_s` each, round and round for `seconds`:
    every path sees the same machine (its drift and other tenants) at nearly the same moments,
    which separate runs seconds apart do not. A response counts for the slice it completes in;
    the requests still in flight at a switch (at most `concurrency`) cross over equally in both
    directions. The first and the last (partial) round of slices are left out."""
    if not shutil.which("wrk"):
        raise RuntimeError("interleaved runs need wrk (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        body_file = Path(tmp) / "body"
        body_file.write_bytes(body)
        script = Path(tmp) / "interleaved.lua"
        quoted = ", ".join(f'"{p}"' for p in paths)
        script.write_text(INTERLEAVED_LUA % {"paths": quoted, "slice": slice_s,
                                             "body": body_file})  # fmt: skip
        cmd = ["taskset", "-c", core, "wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s"]
        cmd += ["--timeout", "10s", "-s", str(script), base]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    slices: dict[int, tuple[int, int]] = {}
    for line in run.stdout.splitlines():
        if line.startswith("SLICE "):
            k, n, errors = (int(v) for v in line.split()[1:])
            slices[k] = (n, errors)
    if not slices:
        raise RuntimeError(f"wrk reported no slices: {run.stdout}\n{run.stderr}")
    rounds = max(slices) // len(paths)  # complete rounds; the last one may be partial
    keep = range(len(paths), rounds * len(paths))  # the first round warms up
    results = []
    for i, path in enumerate(paths):
        mine = [slices.get(k, (0, 0)) for k in keep if k % len(paths) == i]
        done, errors = sum(n for n, _ in mine), sum(e for _, e in mine)
        counts = [n for n, _ in mine]
        results.append(Interleaved(path, done / (len(mine) * slice_s), errors, len(mine), counts))
    return results

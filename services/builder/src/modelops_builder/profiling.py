"""Use case: profile an image: run it with CPU/memory limits, load it at a few concurrency
levels (bounded in time and count), recommend resources for a latency target."""

import asyncio
import json
import math
import socket
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import structlog

from modelops_builder.ports import Engine
from modelops_builder.repository import MongoBuilderStore, now
from modelops_builder.settings import BuilderSettings
from modelops_contracts.events import ModelVersionProfiled
from modelops_servicekit.errors import Invalid, NotFound
from modelops_servicekit.objects import ObjectStore

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ProfileRequest:
    """How to profile: limits, load levels, duration per level, the latency target."""

    package_id: str
    cpus: float = 1.0
    memory_mb: int = 1024
    levels: tuple[int, ...] = (1, 4, 16)
    seconds_per_level: float = 5.0
    max_requests_per_level: int = 20_000
    latency_target_ms: float = 50.0
    sample_input: Any = None


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def recommend(levels: list[dict[str, Any]], target_ms: float, cpus: float) -> dict[str, Any]:
    """The cheapest resources that kept p99 under the target at the busiest level that did."""
    ok = [lv for lv in levels if lv["p99_ms"] <= target_ms and lv["errors"] == 0]
    peak_mb = max((lv["peak_memory_mb"] for lv in levels), default=0.0)
    memory = int(math.ceil(peak_mb * 1.5 / 64) * 64) or 256
    if not ok:
        return {
            "cpu": cpus,
            "memory_mb": memory,
            "met_target": False,
            "max_rps": 0.0,
            "note": f"p99 above {target_ms:g} ms at every level: give more CPU or relax it",
        }
    best = max(ok, key=lambda lv: lv["rps"])
    cpu = min(cpus, max(0.25, math.ceil(best["cpu_cores"] * 4) / 4))
    return {
        "cpu": cpu,
        "memory_mb": memory,
        "met_target": True,
        "max_rps": best["rps"],
        "at_concurrency": best["concurrency"],
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Profiler:
    """Profiles, stored with the package; each one published as model_version.profiled."""

    def __init__(
        self,
        settings: BuilderSettings,
        store: MongoBuilderStore,
        engine: Engine,
        objects: ObjectStore,
        kick: Any,
    ) -> None:
        self.settings, self.store, self.engine = settings, store, engine
        self.objects, self.kick = objects, kick

    async def profile(self, req: ProfileRequest) -> dict[str, Any]:
        pkg = await self.store.package(req.package_id)
        if pkg is None:
            raise NotFound(f"no package {req.package_id!r}")
        image = await self.store.image(pkg["manifest_digest"])
        if image is None or image["status"] != "built":
            raise Invalid(f"package {req.package_id} has no built image: build it first")
        sample = req.sample_input
        if sample is None:
            sample = json.loads(pkg["manifest"]["sample_input"])
        if sample is None:
            raise Invalid("no sample input: give sample_input (or package with one)")
        levels = await self._measure(image["tag"], req, sample)
        rec = recommend(levels, req.latency_target_ms, req.cpus)
        return await self._store(pkg, image, req, levels, rec)

    async def _measure(self, tag: str, req: ProfileRequest, sample: Any) -> list[dict[str, Any]]:
        port = _free_port()
        env = {"MODELOPS_MODELSERVER_PORT": str(port), "MODELOPS_MODELSERVER_HOST": "127.0.0.1"}
        cid = await asyncio.to_thread(self.engine.run, tag, env, req.cpus, req.memory_mb)
        try:
            base = f"http://127.0.0.1:{port}"
            await self._wait_ready(base, cid)
            body = json.dumps({"data": sample}).encode()
            return [await self._level(base, cid, body, c, req) for c in req.levels]
        finally:
            await asyncio.to_thread(self.engine.remove, cid)

    async def _wait_ready(self, base: str, cid: str) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=2) as http:
            for _ in range(120):
                try:
                    if (await http.get("/v2/health/ready")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.5)
        logs = await asyncio.to_thread(self.engine.logs, cid)
        raise Invalid(f"the image did not become ready in 60 s; its log ends with:\n{logs}")

    async def _level(
        self, base: str, cid: str, body: bytes, concurrency: int, req: ProfileRequest
    ) -> dict[str, Any]:
        latencies: list[float] = []
        errors = 0
        deadline = time.monotonic() + req.seconds_per_level
        samples: list[tuple[float, int]] = []

        async def sampler() -> None:
            while time.monotonic() < deadline:
                samples.append(await asyncio.to_thread(self.engine.stats, cid))

        async def worker(http: httpx.AsyncClient) -> None:
            nonlocal errors
            while time.monotonic() < deadline and len(latencies) < req.max_requests_per_level:
                started = time.perf_counter()
                resp = await http.post(
                    "/score", content=body, headers={"content-type": "application/json"}
                )
                latencies.append((time.perf_counter() - started) * 1000)
                errors += resp.status_code != 200

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
            await asyncio.gather(sampler(), *(worker(http) for _ in range(concurrency)))
        elapsed = time.monotonic() - started
        cores = [c for c, _ in samples if c > 0]
        return {
            "concurrency": concurrency,
            "requests": len(latencies),
            "errors": errors,
            "rps": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 0.50), 3),
            "p95_ms": round(percentile(latencies, 0.95), 3),
            "p99_ms": round(percentile(latencies, 0.99), 3),
            "cpu_cores": round(sum(cores) / len(cores), 3) if cores else 0.0,
            "peak_memory_mb": round(max((m for _, m in samples), default=0) / 2**20, 1),
        }

    async def _store(
        self,
        pkg: dict[str, Any],
        image: dict[str, Any],
        req: ProfileRequest,
        levels: list[dict[str, Any]],
        rec: dict[str, Any],
    ) -> dict[str, Any]:
        profile_id = uuid.uuid4().hex[:16]
        doc = {
            "_id": profile_id,
            "package_id": pkg["_id"],
            "model_name": pkg["model_name"],
            "version": pkg["version"],
            "image": image["tag"],
            "cpus": req.cpus,
            "memory_mb": req.memory_mb,
            "latency_target_ms": req.latency_target_ms,
            "levels": levels,
            "recommendation": rec,
            "created_at": now(),
        }
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "profile.json"
            path.write_text(json.dumps(doc, default=str, indent=2))
            stored = await self.objects.put_file(path, f"profiles/{profile_id}.json")
        uri = f"s3://{self.objects.bucket}/{stored.key}"
        best = max(levels, key=lambda lv: lv["rps"])
        event = ModelVersionProfiled(
            model_name=pkg["model_name"],
            version=pkg["version"],
            package_id=pkg["_id"],
            profile_uri=uri,
            recommended_cpu=rec["cpu"],
            recommended_memory_mb=rec["memory_mb"],
            latency_target_ms=req.latency_target_ms,
            p50_ms=levels[0]["p50_ms"],
            p99_ms=levels[0]["p99_ms"],
            max_rps=best["rps"],
        )
        doc["profile_uri"] = uri
        await self.store.save_profile(doc, [event])
        self.kick()
        log.info("model_version_profiled", profile_id=profile_id, package_id=pkg["_id"])
        return doc

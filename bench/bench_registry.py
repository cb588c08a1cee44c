"""Registry benchmark: registration throughput, and upload/download MB/s against raw MinIO.

Run: `uv run python bench/bench_registry.py [--sizes 100,1000] [--registrations 30] [--repeat 5]`

Starts one registry process on the local stack (infra/local.sh) in a throw-away namespace,
measures, prints a table, and removes its database, bucket and streams again.
"""

import argparse
import asyncio
import hashlib
import os
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from minio import Minio

from modelops_client.registry import RegistryClient
from modelops_testkit.cleanup import remove_namespace
from modelops_testkit.processes import ServiceFleet
from modelops_testkit.servers import stack

MB = 1024 * 1024
CHUNK = 4 * MB


def random_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as f:
        for offset in range(0, size, CHUNK):
            block = os.urandom(min(CHUNK, size - offset))
            digest.update(block)
            f.write(block)
    return digest.hexdigest()


def timed(action: object) -> float:
    started = time.perf_counter()
    action()  # type: ignore[operator]  # any zero-argument callable
    return time.perf_counter() - started


def registrations(url: str, count: int, concurrency: int) -> tuple[float, float]:
    """versions/s registering `count` versions sequentially, then `count` with concurrency."""
    with httpx.Client(base_url=url, timeout=120) as http:
        data = b"bench model"
        sha = hashlib.sha256(data).hexdigest()
        http.put(f"/v1/blobs/{sha}", content=data).raise_for_status()
        body = {"files": [{"path": "m.bin", "sha256": sha, "size": len(data)}]}
        started = time.perf_counter()
        for _ in range(count):
            http.post("/v1/models/seq/versions", json=body).raise_for_status()
        sequential = count / (time.perf_counter() - started)

    async def concurrent() -> float:
        limit = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:

            async def one() -> None:
                async with limit:
                    resp = await http.post("/v1/models/conc/versions", json=body)
                    resp.raise_for_status()

            started = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(count)))
            return count / (time.perf_counter() - started)

    return sequential, asyncio.run(concurrent())


def transfer(
    url: str, minio: Minio, bucket: str, size_mb: int, tmp: Path, round_: int
) -> list[tuple[str, float, float]]:
    """(operation, registry MB/s, raw MinIO MB/s) for one file size, through the SDK.

    Both uploads come before both downloads, so each download reads an object written just
    as recently, and the registry's own work after a registration (its event, the audit log)
    is not timed as part of the download that follows it. The SDK upload hashes the whole
    file (SHA-256 and BLAKE3) and every part (raw MinIO's SDK hashes every part too, to sign
    it); the SDK download verifies every byte against the manifest's BLAKE3 (raw MinIO's fget
    verifies nothing).
    """
    src, size = tmp / f"src-{size_mb}", size_mb * MB
    random_file(src, size)
    model = f"big{size_mb}r{round_}"  # new random bytes each round: no blob is reused
    with RegistryClient(base_url=url) as sdk, httpx.Client(base_url=url, timeout=600) as http:
        up = timed(lambda: sdk.register_model(model, src))
        raw_up = timed(
            lambda: minio.fput_object(bucket, f"raw/{model}", str(src), part_size=16 * MB)
        )
        down = timed(lambda: sdk.download_model(f"{model}:1", tmp / "via-registry"))
        raw_down = timed(lambda: minio.fget_object(bucket, f"raw/{model}", str(tmp / "via-minio")))

        def streamed() -> None:
            path = f"/v1/models/{model}/versions/1/files/{src.name}"
            with http.stream("GET", path, params={"stream": "true"}) as resp:
                resp.raise_for_status()
                with (tmp / "streamed").open("wb") as out:
                    for chunk in resp.iter_raw():
                        out.write(chunk)

        stream = timed(streamed)
    shutil.rmtree(tmp / "via-registry")
    for name in ("streamed", "via-minio", src.name):
        (tmp / name).unlink(missing_ok=True)
    return [
        (f"upload {size_mb} MB", size_mb / up, size_mb / raw_up),
        (f"download {size_mb} MB", size_mb / down, size_mb / raw_down),
        (f"  streamed {size_mb} MB*", size_mb / stream, size_mb / raw_down),
    ]


def medians(
    rounds: list[list[tuple[str, float, float]]],
) -> list[tuple[str, float, float, float]]:
    """Per operation: the median registry rate, the median raw rate, and the median of each
    round's ratio (the two ran back to back, so a round's ratio shares its moment's load)."""
    return [
        (
            ops[0][0],
            statistics.median(op[1] for op in ops),
            statistics.median(op[2] for op in ops),
            statistics.median(op[1] / op[2] for op in ops),
        )
        for ops in zip(*rounds, strict=True)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100,1000", help="file sizes in MB, comma-separated")
    parser.add_argument("--registrations", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5, help="rounds per size (medians)")
    args = parser.parse_args()
    real = stack()
    namespace = "bench" + uuid.uuid4().hex[:8]
    minio = Minio(real.s3_endpoint, real.s3_access_key, real.s3_secret_key, secure=False)
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as folder:
        fleet = ServiceFleet(real, namespace, Path(folder))
        try:
            (registry,) = fleet.start("registry")
            bucket = f"{namespace}-registry"
            seq, conc = registrations(registry.url, args.registrations, args.concurrency)
            rows = []
            for size_mb in (int(s) for s in args.sizes.split(",")):
                rounds = [
                    transfer(registry.url, minio, bucket, size_mb, Path(folder), i)
                    for i in range(args.repeat)
                ]
                rows += medians(rounds)
        finally:
            fleet.stop_all()
            asyncio.run(remove_namespace(real, namespace))
    print(f"\nregistrations: {seq:.1f} versions/s sequential, "
          f"{conc:.1f} versions/s with {args.concurrency} concurrent clients "
          f"({args.registrations} each)")  # fmt: skip
    print(f"median of {args.repeat} rounds per size; load average {os.getloadavg()[0]:.1f}")
    print(
        f"\n{'operation':<20}{'registry MB/s':>15}{'raw MinIO MB/s':>17}{'ratio':>8}  goal >= 0.80"
    )
    for name, via, raw, ratio in rows:
        verdict = "" if name.endswith("*") else "ok" if ratio >= 0.8 else "MISS"
        print(f"{name:<20}{via:>15.1f}{raw:>17.1f}{ratio:>8.2f}  {verdict}")
    print(
        "\nupload and download go through the SDK (hash, verify, progress): files of 64 MiB or"
        "\nmore are uploaded in 16 MiB parts, three at a time, each part checked by the store,"
        "\nand downloads take signed links from the version's file listing (one registry call)"
        "\nand check each file's BLAKE3."
        "\nratio: the median of each round's ratio (registry and raw MinIO back to back)."
        "\n* the same file streamed through the registry (`?stream=true`, not verified by this"
        "\nloop), for comparison; no goal."
    )


if __name__ == "__main__":
    main()

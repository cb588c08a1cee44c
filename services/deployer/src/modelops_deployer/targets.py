"""Where replicas run: local processes or Docker containers, each a model server on a port."""

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Protocol

import docker
import structlog
from docker.errors import DockerException, NotFound

log = structlog.get_logger(__name__)
Replica = dict[str, Any]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(spec: dict[str, Any], port: int) -> dict[str, str]:
    """The model server's settings for one replica."""
    return {
        "MODELOPS_MODELSERVER_HOST": "127.0.0.1",
        "MODELOPS_MODELSERVER_PORT": str(port),
        "MODELOPS_MODELSERVER_MAX_CONCURRENCY": str(spec["max_concurrency"]),
        "MODELOPS_MODELSERVER_REQUEST_TIMEOUT_S": str(spec["request_timeout_s"]),
        "MODELOPS_MODELSERVER_MAX_PENDING": str(max(64, spec["max_concurrency"] * 4)),
    }


class Target(Protocol):
    """Starts, observes and stops replicas of a deployment."""

    async def start(self, deployment: dict[str, Any]) -> Replica: ...
    async def alive(self, replica: Replica) -> bool: ...
    async def stop(self, replica: Replica, grace_s: float) -> None: ...
    async def log_tail(self, replica: Replica, lines: int = 40) -> str: ...
    def capacity(self) -> tuple[float, int]: ...


class ProcessTarget:
    """`python -m modelops_modelserver` on a free port of this machine."""

    def __init__(self, state_dir: Path, cpus: float, memory_mb: int) -> None:
        self._dir = state_dir
        self._cpus = cpus or float(os.cpu_count() or 1)
        self._memory = memory_mb or _total_memory_mb()
        self._procs: dict[int, subprocess.Popen[bytes]] = {}

    def capacity(self) -> tuple[float, int]:
        return self._cpus, self._memory

    async def start(self, deployment: dict[str, Any]) -> Replica:
        if not deployment.get("model_dir"):
            raise ValueError("the process target needs model_dir (a folder with modelserver.json)")
        port = free_port()
        rid = uuid.uuid4().hex[:8]
        self._dir.mkdir(parents=True, exist_ok=True)
        log_path = self._dir / f"{deployment['_id']}-{rid}.log"
        env = {**os.environ, **server_env(deployment, port)}
        args = [
            sys.executable,
            "-m",
            "modelops_modelserver",
            "--model-dir",
            deployment["model_dir"],
        ]
        proc = await asyncio.to_thread(_spawn, args, env, log_path)
        self._procs[proc.pid] = proc
        return {"id": rid, "port": port, "url": f"http://127.0.0.1:{port}", "pid": proc.pid,
                "log": str(log_path)}  # fmt: skip

    async def alive(self, replica: Replica) -> bool:
        proc = self._procs.get(replica["pid"])
        if proc is not None:
            return proc.poll() is None
        try:  # adopted after a deployer restart: ask the kernel
            os.kill(replica["pid"], 0)
        except OSError:
            return False
        return True

    async def stop(self, replica: Replica, grace_s: float) -> None:
        pid = replica["pid"]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        proc = self._procs.pop(pid, None)
        if proc is None:
            return
        try:
            await asyncio.wait_for(asyncio.to_thread(proc.wait), grace_s + 5)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)

    async def log_tail(self, replica: Replica, lines: int = 40) -> str:
        return await asyncio.to_thread(_tail, Path(replica.get("log", "")), lines)


class DockerTarget:
    """Containers on the local engine, host network, with CPU and memory limits."""

    def __init__(self) -> None:
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = docker.from_env()
        return self._client

    def capacity(self) -> tuple[float, int]:
        info = self.client.info()
        return float(info["NCPU"]), int(info["MemTotal"]) // (1024 * 1024)

    async def start(self, deployment: dict[str, Any]) -> Replica:
        if not deployment.get("image"):
            raise ValueError("the docker target needs an image (from the builder's ImageBuilt)")
        port = free_port()
        rid = uuid.uuid4().hex[:8]
        container = await asyncio.to_thread(
            self.client.containers.run,
            deployment["image"],
            detach=True,
            name=f"modelops-{deployment['_id']}-{rid}",
            network_mode="host",
            environment=server_env(deployment, port),
            nano_cpus=int(float(deployment["cpu"]) * 1e9),
            mem_limit=f"{int(deployment['memory_mb'])}m",
            labels={"modelops.deployment": deployment["_id"], "modelops.replica": rid},
        )
        return {"id": rid, "port": port, "url": f"http://127.0.0.1:{port}",
                "container": container.id}  # fmt: skip

    async def alive(self, replica: Replica) -> bool:
        try:
            container = await asyncio.to_thread(self.client.containers.get, replica["container"])
        except NotFound:
            return False
        return bool(container.status == "running")

    async def stop(self, replica: Replica, grace_s: float) -> None:
        try:
            container = await asyncio.to_thread(self.client.containers.get, replica["container"])
            await asyncio.to_thread(container.stop, timeout=int(grace_s) + 1)
            await asyncio.to_thread(container.remove, force=True)
        except (NotFound, DockerException) as exc:
            log.warning("container_stop_failed", error=repr(exc))

    async def log_tail(self, replica: Replica, lines: int = 40) -> str:
        try:
            container = await asyncio.to_thread(self.client.containers.get, replica["container"])
            raw = await asyncio.to_thread(container.logs, tail=lines)
        except (NotFound, DockerException):
            return ""
        return bytes(raw).decode(errors="replace")


def _spawn(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _tail(path: Path, lines: int) -> str:
    if not path.is_file():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _total_memory_mb() -> int:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 1 << 20
    return int(pages * size) // (1024 * 1024)

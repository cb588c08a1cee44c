"""The Docker engine through the Docker SDK: streamed builds with a deadline, containers to run.

Builds and containers use host networking (the local engine runs without bridges).
"""

import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import docker
from docker.errors import APIError, ImageNotFound, NotFound

Log = Callable[[str], None]


class BuildFailed(Exception):
    """The engine refused the build or a step failed; the message is the engine's."""


@dataclass(frozen=True)
class BuiltImage:
    """An image in the engine."""

    tag: str
    image_id: str
    size_bytes: int


class DockerEngine:
    """Synchronous: callers run these in threads."""

    def __init__(self, host: str) -> None:
        self.host = host

    def _api(self, timeout: float = 120) -> docker.APIClient:
        return docker.APIClient(base_url=self.host, timeout=int(timeout))

    def image(self, tag: str) -> BuiltImage | None:
        api = self._api()
        try:
            info = api.inspect_image(tag)
        except (ImageNotFound, NotFound):
            return None
        finally:
            api.close()
        return BuiltImage(tag, str(info["Id"]), int(info.get("Size", 0)))

    def build(
        self, context: io.BytesIO, tag: str, log: Log, timeout_s: float, labels: dict[str, str]
    ) -> BuiltImage:
        """Build a tar context, streaming every line to `log`; BuildFailed past the deadline."""
        api = self._api(timeout_s)
        deadline = time.monotonic() + timeout_s
        expired = threading.Event()

        def watchdog() -> None:
            while time.monotonic() < deadline:
                if done.wait(1.0):
                    return
            expired.set()
            api.close()  # drops the stream: the engine cancels the build

        done = threading.Event()
        threading.Thread(target=watchdog, daemon=True).start()
        try:
            stream = api.build(
                fileobj=context,
                custom_context=True,
                tag=tag,
                rm=True,
                forcerm=True,
                pull=False,
                network_mode="host",
                decode=True,
                labels=labels,
            )
            for chunk in stream:
                self._relay(chunk, log)
        except Exception as exc:
            if expired.is_set():
                raise BuildFailed(f"build exceeded its {timeout_s:g} s timeout") from None
            if isinstance(exc, BuildFailed):
                raise
            raise BuildFailed(f"docker: {exc}") from exc
        finally:
            done.set()
            api.close()
        built = self.image(tag)
        if built is None:
            raise BuildFailed(f"the engine reported success but {tag} does not exist")
        return built

    @staticmethod
    def _relay(chunk: dict[str, Any], log: Log) -> None:
        if "error" in chunk:
            log(str(chunk["error"]).rstrip())
            raise BuildFailed(str(chunk["error"]).strip())
        text = chunk.get("stream") or chunk.get("status")
        if text:
            for line in str(text).rstrip("\n").splitlines():
                log(line)

    def push(self, tag: str, repository: str, log: Log) -> str:
        """Tag into a registry and push; returns the pushed reference."""
        api = self._api(600)
        try:
            name, _, version = tag.rpartition(":")
            target = f"{repository.rstrip('/')}/{name}"
            api.tag(tag, target, version)
            for chunk in api.push(target, version, stream=True, decode=True):
                self._relay(chunk, log)
            return f"{target}:{version}"
        finally:
            api.close()

    def run(self, image: str, env: dict[str, str], cpus: float, memory_mb: int) -> str:
        """Start a detached container with CPU and memory limits; returns its id."""
        client = docker.DockerClient(base_url=self.host)
        try:
            container = client.containers.run(
                image,
                detach=True,
                network_mode="host",
                environment=env,
                nano_cpus=int(cpus * 1e9),
                mem_limit=f"{memory_mb}m",
                labels={"org.modelops.role": "profile"},
            )
            return str(container.id)
        finally:
            client.close()

    def stats(self, container_id: str) -> tuple[float, int]:
        """(CPU cores used since the previous sample, memory bytes) of a running container."""
        api = self._api()
        try:
            s = api.stats(container_id, stream=False)
        finally:
            api.close()
        cpu, pre = s["cpu_stats"], s["precpu_stats"]
        delta = cpu["cpu_usage"]["total_usage"] - pre.get("cpu_usage", {}).get("total_usage", 0)
        system = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
        online = cpu.get("online_cpus", 1)
        cores = (delta / system) * online if system > 0 else 0.0
        return cores, int(s.get("memory_stats", {}).get("usage", 0))

    def logs(self, container_id: str) -> str:
        api = self._api()
        try:
            return bytes(api.logs(container_id, tail=50)).decode("utf-8", "replace")
        finally:
            api.close()

    def remove(self, container_id: str) -> None:
        api = self._api()
        try:
            api.remove_container(container_id, force=True)
        except (APIError, NotFound):
            pass
        finally:
            api.close()

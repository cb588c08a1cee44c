"""The Containers port on the Docker engine, through the Docker SDK (synchronous: called in
threads, one client per call). A service without container runs never needs an engine."""

import contextlib
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, NotFound

from modelops_jobs.environments import RUN_LABEL, ContainerSpec

CHUNK = 1 << 20


class DockerContainers:
    """Run containers on the engine at `host`."""

    def __init__(self, host: str) -> None:
        self.host = host

    @contextmanager
    def _client(self, timeout: float | None = 60) -> Iterator[docker.APIClient]:
        """None: no read timeout (a followed log may be silent for longer than any default)."""
        api = docker.APIClient(base_url=self.host, timeout=timeout)
        try:
            yield api
        finally:
            api.close()

    def create(self, spec: ContainerSpec) -> str:
        config: dict[str, Any] = {"network_mode": spec.network_mode}
        if spec.cpus is not None:
            config["nano_cpus"] = int(spec.cpus * 1e9)
        if spec.memory_mb is not None:
            config["mem_limit"] = f"{spec.memory_mb}m"
        with self._client() as api:
            created = api.create_container(
                spec.image,
                command=spec.argv,
                environment=spec.env,
                working_dir=spec.workdir,
                labels=spec.labels,
                host_config=api.create_host_config(**config),
            )
        return str(created["Id"])

    def copy_in(self, container_id: str, path: str, tar: Path) -> None:
        with self._client(timeout=None) as api, tar.open("rb") as f:
            api.put_archive(container_id, path, f)

    def copy_out(self, container_id: str, path: str, tar: Path) -> bool:
        with self._client(timeout=None) as api:
            try:
                stream, _ = api.get_archive(container_id, path, chunk_size=CHUNK)
                with tar.open("wb") as f:
                    for chunk in stream:
                        f.write(chunk)
            except NotFound:
                return False
        return True

    def start(self, container_id: str) -> None:
        with self._client() as api:
            api.start(container_id)

    def follow_logs(self, container_id: str, log: Path) -> None:
        with self._client(timeout=None) as api, log.open("ab") as f:
            try:
                for chunk in api.logs(container_id, stream=True, follow=True):
                    f.write(chunk)
                    f.flush()
            except APIError:
                pass  # removed under us: the run is over

    def exit_code(self, container_id: str) -> int | None:
        with self._client() as api:
            state = api.inspect_container(container_id)["State"]
        if state.get("Running") or state.get("Status") == "created":
            return None
        return int(state["ExitCode"])

    def stop(self, container_id: str, grace_s: float) -> None:
        with self._client(timeout=grace_s + 60) as api:
            try:
                api.stop(container_id, timeout=math.ceil(grace_s))
                if api.inspect_container(container_id)["State"].get("Running"):
                    api.kill(container_id)
            except APIError:
                pass  # it ended meanwhile

    def remove(self, container_id: str) -> None:
        with self._client() as api, contextlib.suppress(APIError):  # already gone
            api.remove_container(container_id, force=True)

    def labelled(self, label: str, value: str) -> list[tuple[str, str]]:
        with self._client() as api:
            found = api.containers(all=True, filters={"label": f"{label}={value}"})
        return [(str(c["Id"]), str((c.get("Labels") or {}).get(RUN_LABEL, ""))) for c in found]

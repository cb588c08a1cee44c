"""The platform on one machine: the infra/ stack plus every service as a local process."""

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

SERVICES: dict[str, int] = {
    "registry": 8101,
    "builder": 8102,
    "deployer": 8103,
    "scoring_gateway": 8104,
    "data_collector": 8105,
    "drift_monitor": 8106,
    "notifier": 8107,
    "jobs": 8108,
}
"""Every service and its default port (each service's own settings hold the same default)."""


class LocalPlatformError(RuntimeError):
    """The local platform could not be brought up or down."""


def repo_root() -> Path:
    """The checkout that holds infra/local.sh: from the working directory upwards, else ours."""
    for folder in (Path.cwd(), *Path.cwd().parents, *Path(__file__).resolve().parents):
        if (folder / "infra" / "local.sh").is_file():
            return folder
    raise LocalPlatformError("no infra/local.sh found: run modelops from a modelops checkout")


@dataclass(frozen=True)
class ServiceProcess:
    """One service run as a local process."""

    name: str
    port: int
    state_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "pids" / f"service-{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "logs" / f"service-{self.name}.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health/ready", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False


class LocalPlatform:
    """Starts and stops the stack (through infra/local.sh) and the services (as processes)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or repo_root()
        self.state_dir = Path(os.environ.get("MODELOPS_STATE_DIR", self.root / ".state"))
        self.services = [ServiceProcess(n, p, self.state_dir) for n, p in SERVICES.items()]

    def stack(self, command: str, *args: str, on_line: Callable[[str], None] = print) -> None:
        """Run `infra/local.sh COMMAND`, streaming its output line by line."""
        cmd = ["bash", str(self.root / "infra" / "local.sh"), command, *args]
        with subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as p:
            assert p.stdout is not None
            for line in p.stdout:
                on_line(line.rstrip())
        if p.returncode != 0:
            raise LocalPlatformError(f"{shlex.join(cmd)} exited with {p.returncode}")

    def stack_env(self) -> dict[str, str]:
        out = subprocess.run(
            ["bash", str(self.root / "infra" / "local.sh"), "env"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        env = {}
        for line in out.splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = shlex.split(value)[0] if value else ""
        return env

    def start(self, service: ServiceProcess, env: dict[str, str]) -> int:
        """Spawn a service unless it already runs; returns its pid."""
        if (pid := service.pid()) is not None:
            return pid
        service.log_file.parent.mkdir(parents=True, exist_ok=True)
        service.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with service.log_file.open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", f"modelops_{service.name}"],
                env={**os.environ, **env, "MODELOPS_LOG__JSON_LOGS": "true"},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.root,
            )
        service.pid_file.write_text(str(proc.pid))
        return proc.pid

    def wait_ready(self, service: ServiceProcess, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not service.ready():
            if service.pid() is None:
                tail = service.log_file.read_text(errors="replace")[-2000:]
                raise LocalPlatformError(f"{service.name} exited during start-up:\n{tail}")
            if time.monotonic() > deadline:
                raise LocalPlatformError(f"{service.name} not ready after {timeout_s:.0f}s")
            time.sleep(0.2)

    def stop(self, service: ServiceProcess, timeout_s: float = 25.0) -> bool:
        """SIGTERM (graceful), then SIGKILL after the timeout; True if it was running."""
        pid = service.pid()
        if pid is None:
            service.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while service.pid() is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        if service.pid() is not None:
            os.kill(pid, signal.SIGKILL)
        service.pid_file.unlink(missing_ok=True)
        return True

    def statuses(self) -> Iterator[tuple[ServiceProcess, int | None, bool]]:
        for service in self.services:
            pid = service.pid()
            yield service, pid, pid is not None and service.ready()

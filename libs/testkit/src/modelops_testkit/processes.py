"""Services run as real OS processes for end-to-end tests, isolated by the test's namespace."""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from modelops_testkit.servers import Stack

PEER_URL_ENV = {
    "registry": "MODELOPS_REGISTRY_URL",
    "builder": "MODELOPS_BUILDER_URL",
    "deployer": "MODELOPS_DEPLOYER_URL",
    "scoring_gateway": "MODELOPS_GATEWAY_URL",
    "data_collector": "MODELOPS_COLLECTOR_URL",
    "drift_monitor": "MODELOPS_MONITOR_URL",
    "notifier": "MODELOPS_NOTIFIER_URL",
    "jobs": "MODELOPS_JOBS_URL",
}
"""How a service finds a peer: the same variables the SDK reads (modelops_client.config)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServiceProcess:
    """One service process; its log is kept for the test's failure report."""

    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", f"modelops_{self.name}"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready in {timeout_s}s: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """SIGTERM and wait (graceful shutdown); SIGKILL if it does not end in time."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


@dataclass
class ServiceFleet:
    """Starts services against the real stack inside one test namespace."""

    stack: Stack
    namespace: str
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    running: dict[str, ServiceProcess] = field(default_factory=dict)

    def env_for(self, name: str, port: int) -> dict[str, str]:
        return {
            **os.environ,
            "MODELOPS_NATS__URL": self.stack.nats_url,
            "MODELOPS_NATS__NAMESPACE": self.namespace,
            "MODELOPS_NATS__RETRY_DELAY_S": "0.1",
            "MODELOPS_MONGO__URL": self.stack.mongo_url,
            "MODELOPS_MONGO__DATABASE": f"{self.namespace}_{name}",
            "MODELOPS_OBJECTS__ENDPOINT": self.stack.s3_endpoint,
            "MODELOPS_OBJECTS__ACCESS_KEY": self.stack.s3_access_key,
            "MODELOPS_OBJECTS__SECRET_KEY": self.stack.s3_secret_key,
            "MODELOPS_OBJECTS__BUCKET": f"{self.namespace}-{name.replace('_', '-')}",
            "MODELOPS_HTTP__PORT": str(port),
            "MODELOPS_LOG__JSON_LOGS": "true",
            **self.extra_env,
        }

    def start(self, *names: str) -> list[ServiceProcess]:
        """Start services on free ports; each learns the URLs of its peers started so far."""
        ports = {name: free_port() for name in names}
        peers = {PEER_URL_ENV[n]: s.url for n, s in self.running.items() if n in PEER_URL_ENV}
        peers |= {
            PEER_URL_ENV[n]: f"http://127.0.0.1:{p}" for n, p in ports.items() if n in PEER_URL_ENV
        }
        started = []
        for name, port in ports.items():
            own = {k: v for k, v in peers.items() if k not in self.extra_env}
            env = {**self.env_for(name, port), **own}
            service = ServiceProcess(name, port, env, self.log_dir / f"{name}.log")
            service.start()
            self.running[name] = service
            started.append(service)
        for service in started:
            service.wait_ready()
        return started

    def stop_all(self) -> None:
        for service in self.running.values():
            service.stop()
        self.running.clear()

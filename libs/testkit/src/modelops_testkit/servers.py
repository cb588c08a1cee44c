"""The real servers tests talk to: taken from MODELOPS_TEST_* or started through infra/."""

import shlex
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[4]
LOCAL_STACK = REPO_ROOT / "infra" / "local.sh"


class TestStackSettings(BaseSettings):
    """Where the test servers are; unset values make the suite start the local stack."""

    model_config = SettingsConfigDict(env_prefix="MODELOPS_TEST_", extra="ignore")
    __test__ = False

    nats_url: str | None = None
    mongo_url: str | None = None
    s3_endpoint: str | None = None
    s3_access_key: str = "modelops"
    s3_secret_key: str = "modelops-secret"
    docker_host: str | None = None


@dataclass(frozen=True)
class Stack:
    """URLs of running servers."""

    nats_url: str
    mongo_url: str
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str
    docker_host: str | None


class StackUnavailable(RuntimeError):
    """A real server could not be started: the run fails, nothing is skipped."""


def _start_local_stack(components: list[str]) -> dict[str, str]:
    cmd = ["bash", str(LOCAL_STACK), "up", *components]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=1800)
    if done.returncode != 0:
        raise StackUnavailable(
            f"{shlex.join(cmd)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
    env = subprocess.run(
        ["bash", str(LOCAL_STACK), "env"], capture_output=True, text=True, check=True
    )
    values = {}
    for line in env.stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            name, _, value = line.removeprefix("export ").partition("=")
            values[name] = shlex.split(value)[0] if value else ""
    return values


@cache
def stack() -> Stack:
    """The running stack, started once per test session if not given by the environment."""
    s = TestStackSettings()
    if not (s.nats_url and s.mongo_url and s.s3_endpoint):
        env = _start_local_stack(["nats", "ferretdb", "minio"])
        s = TestStackSettings(
            nats_url=env["MODELOPS_TEST_NATS_URL"],
            mongo_url=env["MODELOPS_TEST_MONGO_URL"],
            s3_endpoint=env["MODELOPS_TEST_S3_ENDPOINT"],
            s3_access_key=env.get("MODELOPS_TEST_S3_ACCESS_KEY", s.s3_access_key),
            s3_secret_key=env.get("MODELOPS_TEST_S3_SECRET_KEY", s.s3_secret_key),
            docker_host=env.get("MODELOPS_TEST_DOCKER_HOST"),
        )
    if not (s.nats_url and s.mongo_url and s.s3_endpoint):
        raise StackUnavailable("the local stack did not report its URLs")
    return Stack(
        s.nats_url, s.mongo_url, s.s3_endpoint, s.s3_access_key, s.s3_secret_key, s.docker_host
    )

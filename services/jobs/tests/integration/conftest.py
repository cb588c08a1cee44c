"""Fixtures of the jobs' integration tests: an in-process jobs service on the real stack."""

import asyncio
import hashlib
import textwrap
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from modelops_client.jobs import snapshot
from modelops_jobs.app import create_app
from modelops_jobs.settings import JobsSettings

Json = dict[str, Any]


@pytest.fixture
def jobs_settings(service_settings: Callable[..., Any], tmp_path: Path) -> JobsSettings:
    """Fast heartbeats and kills, runs under this test's tmp folder."""
    settings: JobsSettings = service_settings(
        JobsSettings,
        "jobs",
        runs_dir=tmp_path / "runs",
        heartbeat_s=0.2,
        schedule_check_s=0.2,
        stale_after_s=1.0,
        kill_grace_s=1.0,
    )
    return settings


def client_of(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    headers = {"modelops-user": "alice"}
    return httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers)


@pytest.fixture
async def jobs_app(jobs_settings: JobsSettings) -> AsyncIterator[FastAPI]:
    """An in-process jobs app, its lifespan run."""
    app = create_app(jobs_settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        yield app


@pytest.fixture
async def jobs(jobs_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client calling the in-process jobs app as alice."""
    async with client_of(jobs_app) as http:
        yield http


def code_folder(root: Path, files: dict[str, str]) -> Path:
    folder = root / "code"
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return folder


@dataclass
class Kit:
    """Helpers of the jobs' integration tests, calling one jobs app (handed out as `kit`)."""

    http: httpx.AsyncClient
    tmp_path: Path

    def using(self, http: httpx.AsyncClient) -> "Kit":
        return Kit(http, self.tmp_path)

    async def define_job(self, name: str, script: str, **job: Any) -> Json:
        """Upload a folder holding `script` as train.py and define a job running it."""
        data = snapshot(code_folder(self.tmp_path / name, {"train.py": script}))
        sha = hashlib.sha256(data).hexdigest()
        resp = await self.http.put(f"/v1/snapshots/{sha}", content=data)
        assert resp.status_code == 201, resp.text
        body = {"name": name, "command": ["python", "train.py"], "code_sha256": sha, **job}
        resp = await self.http.post("/v1/jobs", json=body)
        assert resp.status_code == 201, resp.text
        result: Json = resp.json()
        return result

    async def start(self, name: str, **parameters: Any) -> str:
        resp = await self.http.post(f"/v1/jobs/{name}/runs", json={"parameters": parameters})
        assert resp.status_code == 201, resp.text
        run_id: str = resp.json()["run_id"]
        return run_id

    async def run(self, run_id: str) -> Json:
        result: Json = (await self.http.get(f"/v1/runs/{run_id}")).json()
        return result

    async def wait_state(self, run_id: str, *states: str, timeout: float = 20) -> Json:
        async with asyncio.timeout(timeout):
            while (run := await self.run(run_id))["state"] not in states:
                await asyncio.sleep(0.05)
        return run


@pytest.fixture
def kit(jobs: httpx.AsyncClient, tmp_path: Path) -> Kit:
    return Kit(jobs, tmp_path)

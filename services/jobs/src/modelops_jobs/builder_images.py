"""Environment images from the builder's `POST /v1/environments`: its build log is appended to
the run's log as it streams; the last line says the image (or why there is none)."""

import asyncio
import json
from pathlib import Path

import httpx

from modelops_contracts.api.environments import BuildEnvironment
from modelops_jobs.environments import EnvironmentFailed
from modelops_jobs.venvs import append_line


def _refusal(resp: httpx.Response) -> str:
    try:
        return str(resp.json().get("detail") or resp.text)
    except ValueError:
        return resp.text[:500]


def _result(last: str) -> tuple[str, str]:
    """(image, env digest) from the stream's last line; EnvironmentFailed otherwise."""
    try:
        result = json.loads(last)
    except ValueError:
        result = None
    if not isinstance(result, dict):
        raise EnvironmentFailed("environment: the builder's answer ended early")
    if "error" in result:
        raise EnvironmentFailed(f"environment: image build failed: {result['error']}")
    return str(result["image"]), str(result["env_digest"])


class BuilderImages:
    """The EnvironmentImages port on the builder's HTTP API."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        self.base_url, self.timeout_s = base_url.rstrip("/"), timeout_s

    async def ensure(
        self, requirements: tuple[str, ...], base_image: str | None, log: Path
    ) -> tuple[str, str]:
        body = BuildEnvironment(requirements=list(requirements), base_image=base_image)
        timeout = httpx.Timeout(self.timeout_s, connect=10.0)
        last = ""
        try:
            async with (
                httpx.AsyncClient(base_url=self.base_url, timeout=timeout) as client,
                client.stream("POST", "/v1/environments", json=body.model_dump()) as resp,
            ):
                if resp.status_code >= 400:
                    await resp.aread()
                    raise EnvironmentFailed(
                        f"environment: the builder refused it: {_refusal(resp)}"
                    )
                async for line in resp.aiter_lines():
                    last = line
                    await asyncio.to_thread(append_line, log, line)
        except httpx.HTTPError as exc:
            reason = f"environment: the builder at {self.base_url} did not answer: {exc!r}"
            raise EnvironmentFailed(reason) from exc
        return _result(last)

"""The registry, as the builder sees it: its public HTTP API only (never its database or bucket)."""

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import httpx

from modelops_contracts.api.registry import ModelVersionInfo
from modelops_servicekit.errors import Invalid, NotFound, Unavailable

CHUNK = 1024 * 1024


class HttpRegistry:
    """Reads versions and files, uploads blobs and registers versions over HTTP."""

    def __init__(self, base_url: str, user: str = "builder", timeout_s: float = 120.0) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=timeout_s, headers={"modelops-user": user}
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise Unavailable(f"registry unreachable at {self._http.base_url}: {exc}") from exc
        if response.status_code == 404:
            raise NotFound(_detail(response))
        if response.status_code in (400, 409, 422):
            raise Invalid(f"registry refused: {_detail(response)}")
        if response.status_code >= 500:
            raise Unavailable(f"registry error {response.status_code}: {_detail(response)}")
        response.raise_for_status()
        return response

    async def version(self, name: str, ref: str | int) -> ModelVersionInfo:
        """A version by number, `latest` or `@alias`."""
        response = await self._request("GET", f"/v1/models/{name}/versions/{ref}")
        return ModelVersionInfo.model_validate(response.json())

    async def download(self, info: ModelVersionInfo, folder: Path) -> list[Path]:
        """Every file of a version into folder, each checked against its sha256."""
        paths = []
        for entry in info.files:
            target = folder / entry.path
            if not target.resolve().is_relative_to(folder.resolve()):  # noqa: ASYNC240  # no I/O
                raise Invalid(f"file path {entry.path!r} escapes the version folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            url = f"/v1/models/{info.model_name}/versions/{info.version}/files/{entry.path}"
            digest = hashlib.sha256()
            async with self._http.stream("GET", url, follow_redirects=True) as response:
                if response.status_code != 200:
                    raise Unavailable(f"cannot download {entry.path}: {response.status_code}")
                with target.open("wb") as f:
                    async for chunk in response.aiter_bytes(CHUNK):
                        digest.update(chunk)
                        f.write(chunk)
            if digest.hexdigest() != entry.sha256:
                raise Invalid(f"{entry.path} does not match its sha256")
            paths.append(target)
        return paths

    async def upload(self, path: Path) -> dict[str, Any]:
        """PUT a file as a blob; returns its manifest entry {path, sha256, size}."""
        data = await asyncio.to_thread(path.read_bytes)
        sha = hashlib.sha256(data).hexdigest()
        await self._request("PUT", f"/v1/blobs/{sha}", content=data)
        return {"path": path.name, "sha256": sha, "size": len(data)}

    async def register(self, name: str, body: dict[str, Any]) -> ModelVersionInfo:
        response = await self._request("POST", f"/v1/models/{name}/versions", json=body)
        return ModelVersionInfo.model_validate(response.json())


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("message") or body)
    return str(body)

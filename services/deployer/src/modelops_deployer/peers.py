"""HTTP clients of the registry and the scoring gateway."""

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from modelops_servicekit.errors import Invalid, NotFound, Unavailable

Doc = dict[str, Any]


def _raise_for(resp: httpx.Response, what: str) -> None:
    """An error answer as a servicekit error: absent, refused, or (5xx) to be retried."""
    code = resp.status_code
    if code >= 400:
        error = NotFound if code == 404 else Unavailable if code >= 500 else Invalid
        raise error(f"the registry answered {code} for {what}: {resp.text[:300]}")


async def _save(resp: httpx.Response, dest: Path) -> str:
    """Write the body to `dest` as it arrives; its SHA-256."""
    digest = hashlib.sha256()
    with dest.open("wb") as out:
        async for chunk in resp.aiter_bytes():
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


class RegistryClient:
    """The registry's public model API: resolve `latest`/`@alias`, list and fetch files."""

    def __init__(self, base_url: str) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=10.0)

    async def _version(self, model_name: str, selector: str) -> Doc:
        what = f"model {model_name} {selector}"
        try:
            resp = await self._http.get(f"/v1/models/{model_name}/versions/{quote(selector)}")
        except httpx.HTTPError as exc:
            raise Unavailable(f"the registry is not reachable: {exc!r}") from exc
        _raise_for(resp, what)
        doc: Doc = resp.json()
        return doc

    async def resolve(self, model_name: str, selector: str) -> int:
        return int((await self._version(model_name, selector))["version"])

    async def files(self, model_name: str, version: int) -> list[Doc]:
        """The version's files: `path`, `sha256`, `size` each."""
        return list((await self._version(model_name, str(version)))["files"])

    async def fetch(self, model_name: str, version: int, entry: Doc, dest: Path) -> None:
        """Stream one file to `dest` (following the registry's redirect to a signed store
        link) and check its digest against the version's manifest."""
        what = f"file {entry['path']!r} of model {model_name} version {version}"
        url = f"/v1/models/{model_name}/versions/{version}/files/{quote(entry['path'])}"
        try:
            async with self._http.stream("GET", url, follow_redirects=True) as resp:
                if resp.is_error:
                    await resp.aread()  # the problem details, for the message
                    _raise_for(resp, what)
                digest = await _save(resp, dest)
        except httpx.HTTPError as exc:
            raise Unavailable(f"downloading {what} failed: {exc!r}") from exc
        if digest != entry["sha256"]:
            raise Unavailable(f"{what} arrived with another digest than its manifest's")

    async def close(self) -> None:
        await self._http.aclose()


class GatewayClient:
    """`GET /v1/stats` on the scoring gateway."""

    def __init__(self, base_url: str) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=5.0)

    async def stats(self) -> dict[str, Any]:
        resp = await self._http.get("/v1/stats")
        resp.raise_for_status()
        doc: dict[str, Any] = resp.json()
        return doc

    async def close(self) -> None:
        await self._http.aclose()

"""HTTP clients of the registry and the scoring gateway."""

from typing import Any
from urllib.parse import quote

import httpx

from modelops_servicekit.errors import Invalid, NotFound, Unavailable


def _raise_for(resp: httpx.Response, what: str) -> None:
    """An error answer as a servicekit error: absent, refused, or (5xx) to be retried."""
    code = resp.status_code
    if code >= 400:
        error = NotFound if code == 404 else Unavailable if code >= 500 else Invalid
        raise error(f"the registry answered {code} for {what}: {resp.text[:300]}")


class RegistryClient:
    """The registry's public model API: resolve `latest`/`@alias` to a version number."""

    def __init__(self, base_url: str) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=10.0)

    async def resolve(self, model_name: str, selector: str) -> int:
        what = f"model {model_name} {selector}"
        try:
            resp = await self._http.get(f"/v1/models/{model_name}/versions/{quote(selector)}")
        except httpx.HTTPError as exc:
            raise Unavailable(f"the registry is not reachable: {exc!r}") from exc
        _raise_for(resp, what)
        return int(resp.json()["version"])

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

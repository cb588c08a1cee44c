"""HTTP clients of the registry and the scoring gateway."""

from typing import Any

import httpx

from modelops_servicekit.errors import Invalid, NotFound, Unavailable


class RegistryClient:
    """`GET /v1/models/{name}/versions/{latest|@alias}` on the registry."""

    def __init__(self, base_url: str) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=10.0)

    async def resolve(self, model_name: str, selector: str) -> int:
        try:
            resp = await self._http.get(f"/v1/models/{model_name}/versions/{selector}")
        except httpx.HTTPError as exc:
            raise Unavailable(f"the registry is not reachable: {exc!r}") from exc
        if resp.status_code == 404:
            raise NotFound(f"model {model_name} {selector} not found in the registry")
        if resp.status_code >= 400:
            raise Invalid(f"the registry refused {model_name} {selector}: {resp.text[:300]}")
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

"""HTTP adapters to the registry (baseline datasets) and the data collector (windows)."""

from datetime import datetime
from pathlib import Path

import httpx

from modelops_servicekit.errors import Invalid, NotFound, Unavailable

DATA_SUFFIXES = (".parquet", ".csv")


def _check(resp: httpx.Response, what: str) -> None:
    if resp.status_code == 404:
        raise NotFound(f"{what} not found")
    if resp.status_code >= 500:
        raise Unavailable(f"{what}: HTTP {resp.status_code}")
    if resp.status_code >= 400:
        raise Invalid(f"{what}: HTTP {resp.status_code} {resp.text[:500]}")


async def _download(
    client: httpx.AsyncClient, url: str, path: Path, what: str, params: dict[str, str] | None = None
) -> bool:
    async with client.stream("GET", url, params=params, follow_redirects=True) as resp:
        if resp.status_code == 204:
            return False
        if resp.status_code >= 400:
            await resp.aread()
        _check(resp, what)
        with path.open("wb") as f:
            async for chunk in resp.aiter_bytes():
                f.write(chunk)
    return True


class RegistryDatasets:
    """Dataset versions through the registry's `/v1/datasets` API."""

    def __init__(self, base_url: str, timeout_s: float = 300.0) -> None:
        self._base, self._timeout = base_url.rstrip("/"), timeout_s

    async def fetch(self, name: str, version: str, folder: Path) -> list[Path]:
        what = f"dataset {name} version {version}"
        async with httpx.AsyncClient(base_url=self._base, timeout=self._timeout) as client:
            try:
                resp = await client.get(f"/v1/datasets/{name}/versions/{version}")
                _check(resp, what)
                files = [
                    f["path"] for f in resp.json()["files"] if f["path"].endswith(DATA_SUFFIXES)
                ]
                if not files:
                    raise Invalid(f"{what} has no Parquet or CSV file")
                out = []
                for i, rel in enumerate(files):
                    path = folder / f"{i:04d}{Path(rel).suffix}"
                    url = f"/v1/datasets/{name}/versions/{version}/files/{rel}"
                    await _download(client, url, path, what)
                    out.append(path)
                return out
            except httpx.TransportError as exc:
                raise Unavailable(f"registry unreachable: {exc!r}") from exc


class CollectorWindows:
    """Collected predictions through the data collector's `/v1/collected` API."""

    def __init__(self, base_url: str, timeout_s: float = 300.0) -> None:
        self._base, self._timeout = base_url.rstrip("/"), timeout_s

    async def fetch(
        self, endpoint: str, model_version: int | None, start: datetime, end: datetime, path: Path
    ) -> Path | None:
        params = {
            "endpoint": endpoint,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "format": "parquet",
        }
        if model_version is not None:
            params["model_version"] = str(model_version)
        async with httpx.AsyncClient(base_url=self._base, timeout=self._timeout) as client:
            try:
                found = await _download(client, "/v1/collected", path, "collected window", params)
            except httpx.TransportError as exc:
                raise Unavailable(f"data collector unreachable: {exc!r}") from exc
        return path if found else None

"""HTTP adapters to peer services' public APIs: the registry (dataset and model versions,
aliases) and the data collector (collected windows). Shared by the services that must ask."""

from collections.abc import Awaitable
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

import httpx

from modelops_servicekit.errors import Invalid, NotFound, Unavailable

T = TypeVar("T")
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

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self._base, timeout=self._timeout)

    async def describe(self, name: str, version: str) -> dict[str, Any]:
        """The dataset version (`latest` resolved): its number, files and profile."""
        async with self._client() as client:
            return await _get_json(client, f"/v1/datasets/{name}/versions/{version}", name, version)

    async def fetch(self, name: str, version: str, folder: Path) -> list[Path]:
        """Download the version's Parquet and CSV files into `folder`, numbered in order."""
        what = f"dataset {name} version {version}"
        async with self._client() as client:
            info = await _get_json(client, f"/v1/datasets/{name}/versions/{version}", name, version)
            files = [f["path"] for f in info["files"] if f["path"].endswith(DATA_SUFFIXES)]
            if not files:
                raise Invalid(f"{what} has no Parquet or CSV file")
            out = []
            for i, rel in enumerate(files):
                path = folder / f"{i:04d}{Path(rel).suffix}"
                url = f"/v1/datasets/{name}/versions/{info['version']}/files/{rel}"
                await _guarded(_download(client, url, path, what), "registry")
                out.append(path)
            return out


class RegistryModels:
    """Model versions and aliases through the registry's `/v1/models` API."""

    def __init__(self, base_url: str, timeout_s: float = 300.0) -> None:
        self._base, self._timeout = base_url.rstrip("/"), timeout_s

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self._base, timeout=self._timeout)

    async def describe(self, name: str, ref: str) -> dict[str, Any]:
        """One version: `3`, `latest` or `@alias`."""
        async with self._client() as client:
            return await _get_json(client, f"/v1/models/{name}/versions/{ref}", name, ref)

    async def alias(self, name: str, alias: str) -> int | None:
        """The version the alias points to; None if it is not set."""
        async with self._client() as client:
            resp = await _guarded(client.get(f"/v1/models/{name}/aliases/{alias}"), "registry")
            if resp.status_code == 404:
                return None
            _check(resp, f"alias {name}@{alias}")
            return int(resp.json()["version"])

    async def set_alias(self, name: str, alias: str, version: int, actor: str) -> dict[str, Any]:
        """Point the alias at the version (the registry records who and publishes the move)."""
        async with self._client() as client:
            resp = await _guarded(
                client.put(
                    f"/v1/models/{name}/aliases/{alias}",
                    json={"version": version},
                    headers={"modelops-user": actor},
                ),
                "registry",
            )
            _check(resp, f"alias {name}@{alias}")
            result: dict[str, Any] = resp.json()
            return result

    async def fetch(self, name: str, version: int, folder: Path) -> dict[str, Any]:
        """Download every file of the version into `folder` (sub-folders kept); its description."""
        what = f"model {name} version {version}"
        async with self._client() as client:
            info = await _get_json(client, f"/v1/models/{name}/versions/{version}", name, version)
            for entry in info["files"]:
                rel = PurePosixPath(entry["path"])
                if rel.is_absolute() or ".." in rel.parts:
                    raise Invalid(f"{what}: unsafe file path {entry['path']!r}")
                path = folder.joinpath(*rel.parts)
                path.parent.mkdir(parents=True, exist_ok=True)
                url = f"/v1/models/{name}/versions/{version}/files/{entry['path']}"
                await _guarded(_download(client, url, path, what), "registry")
            return info


async def _guarded(call: Awaitable[T], peer: str) -> T:
    """The call's result; a peer that cannot be reached is Unavailable (retried later)."""
    try:
        return await call
    except httpx.TransportError as exc:
        raise Unavailable(f"{peer} unreachable: {exc!r}") from exc


async def _get_json(
    client: httpx.AsyncClient, url: str, name: str, version: object
) -> dict[str, Any]:
    resp = await _guarded(client.get(url), "registry")
    _check(resp, f"{name} version {version}")
    result: dict[str, Any] = resp.json()
    return result


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

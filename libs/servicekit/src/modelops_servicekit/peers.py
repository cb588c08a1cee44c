"""HTTP adapters to peer services' public APIs: the registry (dataset and model versions,
aliases), the data collector (collected windows) and the deployer (shadow deployments). Shared
by the services that must ask."""

import asyncio
import hashlib
from collections.abc import Awaitable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from modelops_servicekit.errors import Conflict, Invalid, NotFound, Unavailable

T = TypeVar("T")
DATA_SUFFIXES = (".parquet", ".csv")


def _check(resp: httpx.Response, what: str) -> None:
    if resp.status_code == 404:
        raise NotFound(f"{what} not found")
    if resp.status_code == 409:  # not now (e.g. taken by another): the caller may ask again
        raise Conflict(f"{what}: HTTP 409 {resp.text[:500]}")
    if resp.status_code >= 500:
        raise Unavailable(f"{what}: HTTP {resp.status_code}")
    if resp.status_code >= 400:
        raise Invalid(f"{what}: HTTP {resp.status_code} {resp.text[:500]}")


async def _download(
    client: httpx.AsyncClient, url: str, path: Path, what: str, params: dict[str, str] | None = None
) -> str | None:
    """Stream the body to `path` (following redirects to signed store links); its sha256, or
    None when the peer answered 204 (nothing to download)."""
    digest = hashlib.sha256()
    async with client.stream("GET", url, params=params, follow_redirects=True) as resp:
        if resp.status_code == 204:
            return None
        if resp.status_code >= 400:
            await resp.aread()
        _check(resp, what)
        with path.open("wb") as f:
            async for chunk in resp.aiter_bytes():
                digest.update(chunk)
                f.write(chunk)
    return digest.hexdigest()


def inside(folder: Path, relative: str) -> Path:
    """Where a manifest's relative path lands; never outside the folder (nor the folder)."""
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder.resolve()) or path == folder.resolve():
        raise Invalid(f"file path {relative!r} leaves the folder")
    return path


class _Peer:
    """A peer service's base URL; one short-lived client per call."""

    def __init__(self, base_url: str, timeout_s: float = 300.0) -> None:
        self._base, self._timeout = base_url.rstrip("/"), timeout_s

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self._base, timeout=self._timeout)


class RegistryDatasets(_Peer):
    """Dataset versions through the registry's `/v1/datasets` API."""

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


class RegistryModels(_Peer):
    """Model versions and aliases through the registry's `/v1/models` API."""

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
        """Download every file of the version into `folder` (sub-folders kept), each checked
        against the digest of the version's manifest; the version's description."""
        async with self._client() as client:
            info = await _get_json(client, f"/v1/models/{name}/versions/{version}", name, version)
            for entry in info["files"]:
                what = f"file {entry['path']!r} of model {name} version {version}"
                path = inside(folder, entry["path"])
                await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
                url = f"/v1/models/{name}/versions/{version}/files/{quote(entry['path'])}"
                digest = await _guarded(_download(client, url, path, what), "registry")
                if digest != entry["sha256"]:
                    raise Unavailable(f"{what} arrived with another digest than its manifest's")
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


class CollectorWindows(_Peer):
    """Collected predictions through the data collector's `/v1/collected` API."""

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
        async with self._client() as client:
            found = await _guarded(
                _download(client, "/v1/collected", path, "collected window", params),
                "data collector",
            )
        return path if found is not None else None


class DeployerShadows(_Peer):
    """Shadow deployments through the deployer's `/v1/endpoints/{name}/shadows` API."""

    async def start(
        self, endpoint: str, model_name: str, version: int, percent: int
    ) -> dict[str, Any]:
        """Create the shadow, or see how it stands (idempotent): its state, share and the
        gateway's counts; Conflict when it cannot start now (the mirror share is taken)."""
        body = {"model_name": model_name, "version": version, "percent": percent}
        what = f"shadow of {model_name}:{version} on endpoint {endpoint}"
        async with self._client() as client:
            url = f"/v1/endpoints/{endpoint}/shadows"
            resp = await _guarded(client.post(url, json=body), "deployer")
            _check(resp, what)
            result: dict[str, Any] = resp.json()
            return result

    async def stop(self, endpoint: str, version: int) -> None:
        """Stop mirroring and delete the shadow (nothing happens if there is none)."""
        async with self._client() as client:
            url = f"/v1/endpoints/{endpoint}/shadows/{version}"
            resp = await _guarded(client.delete(url), "deployer")
            if resp.status_code != 404:  # the endpoint itself is gone: so is its shadow
                _check(resp, f"shadow of version {version} on endpoint {endpoint}")

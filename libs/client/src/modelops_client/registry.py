"""The registry SDK: register, find, download and change models and datasets.

Uploads stream: each file is hashed, skipped if the registry already holds its blob, else sent
as a raw body to `PUT /v1/blobs/{sha256}`; then one request registers the manifest under an
Idempotency-Key, so a retry after a timeout never creates a second version. Downloads are
verified against the manifest's digests before they are renamed into place.
"""

import hashlib
import queue
import threading
import uuid
import zipfile
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Protocol
from urllib.parse import quote

import httpx

from modelops_client.config import ClientSettings
from modelops_client.http import ModelOpsClientError, ServiceClient, raise_for_problem
from modelops_contracts.api.registry import (
    DatasetVersionInfo,
    DatasetVersionPage,
    FileEntry,
    ModelVersionInfo,
    ModelVersionPage,
    RegisterDatasetVersion,
    RegisterModelVersion,
    UpdateModelVersion,
)
from modelops_contracts.events import Lineage
from modelops_contracts.types import Framework

CHUNK = 4 * 1024 * 1024
WRITE_AHEAD = 8
"""Downloaded chunks the writer thread may lag behind the network (bounded memory)."""
RETRIES = 3
RETRYABLE = (0, 502, 503, 504)


class Progress(Protocol):
    """Told about bytes moving: one task per file (or archive)."""

    def start(self, label: str, total: int) -> None: ...
    def advance(self, n: int) -> None: ...
    def finish(self) -> None: ...


class _Silent:
    def start(self, label: str, total: int) -> None:
        return None

    def advance(self, n: int) -> None:
        return None

    def finish(self) -> None:
        return None


def split_ref(ref: str) -> tuple[str, str]:
    """`name`, `name:3`, `name:latest`, `name@alias` -> (name, selector for the URL)."""
    if "@" in ref:
        name, _, alias = ref.partition("@")
        return name, "@" + alias
    name, _, version = ref.partition(":")
    return name, version or "latest"


def local_files(path: Path) -> list[tuple[str, Path]]:
    """The files to upload: a single file (by its name) or every file under a folder."""
    if path.is_file():
        return [(path.name, path)]
    if not path.is_dir():
        raise ModelOpsClientError(0, f"{path} does not exist")
    files = sorted(p for p in path.rglob("*") if p.is_file())
    if not files:
        raise ModelOpsClientError(0, f"folder {path} is empty: nothing to register")
    return [(p.relative_to(path).as_posix(), p) for p in files]


def sha256_of(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _read(path: Path, progress: Progress) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            progress.advance(len(chunk))
            yield chunk


def _safe_target(root: Path, relative: str) -> Path:
    target = (root / PurePosixPath(relative)).resolve()
    if root.resolve() not in target.parents:
        raise ModelOpsClientError(0, f"refusing to write {relative!r} outside {root}")
    return target


class RegistryClient(ServiceClient):
    """A synchronous client of the registry."""

    def __init__(self, settings: ClientSettings | None = None, base_url: str | None = None) -> None:
        settings = settings or ClientSettings()
        super().__init__(
            base_url or settings.registry_url, user=settings.user, timeout_s=settings.timeout_s
        )

    def __enter__(self) -> "RegistryClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _retrying(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(RETRIES):
            try:
                return self.request(method, path, **kwargs)
            except ModelOpsClientError as exc:
                if exc.status not in RETRYABLE or attempt == RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    # -- blobs -------------------------------------------------------------------------------
    def upload_file(self, relative: str, local: Path, progress: Progress) -> FileEntry:
        """Hash, then upload unless the registry already holds this exact blob."""
        sha, size = sha256_of(local)
        progress.start(relative, size)
        head = self.http.head(f"/v1/blobs/{sha}")
        if head.status_code == 200 and int(head.headers.get("content-length", -1)) == size:
            progress.advance(size)
        else:
            self._put_blob(sha, local, size, progress)
        progress.finish()
        return FileEntry(path=relative, sha256=sha, size=size)

    def _put_blob(self, sha: str, local: Path, size: int, progress: Progress) -> None:
        headers = {"content-length": str(size), "content-type": "application/octet-stream"}
        for attempt in range(RETRIES):
            try:
                body = _read(local, progress)  # a fresh stream per attempt
                self.request("PUT", f"/v1/blobs/{sha}", content=body, headers=headers)
                return
            except ModelOpsClientError as exc:
                if exc.status not in RETRYABLE or attempt == RETRIES - 1:
                    raise
                progress.start(local.name, size)

    def upload_path(self, path: Path, progress: Progress | None = None) -> list[FileEntry]:
        return [self.upload_file(r, p, progress or _Silent()) for r, p in local_files(path)]

    # -- models ------------------------------------------------------------------------------
    def register_model(
        self,
        name: str,
        path: Path,
        *,
        framework: Framework | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        properties: dict[str, str] | None = None,
        lineage: Lineage | None = None,
        trusted: bool = False,
        alias: str | None = None,
        idempotency_key: str | None = None,
        progress: Progress | None = None,
    ) -> ModelVersionInfo:
        """Upload a file or folder and register it as the model's next version."""
        body = RegisterModelVersion(
            files=self.upload_path(path, progress),
            framework=framework,
            description=description,
            tags=tags or {},
            properties=properties or {},
            lineage=lineage or Lineage(),
            trusted=trusted,
        )
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        payload = body.model_dump(mode="json", exclude_none=True)
        resp = self._retrying("POST", f"/v1/models/{name}/versions", json=payload, headers=headers)
        info = ModelVersionInfo.model_validate(resp.json())
        if alias:
            self.set_alias(name, alias, info.version)
            info = self.get_model(f"{name}:{info.version}")
        return info

    def list_models(
        self,
        name: str | None = None,
        *,
        tags: dict[str, str] | None = None,
        properties: dict[str, str] | None = None,
        framework: str | None = None,
        alias: str | None = None,
        archived: bool = False,
        page: int = 1,
        limit: int = 20,
    ) -> ModelVersionPage:
        """Versions matching every criterion, newest first."""
        params: list[tuple[str, str | int | bool]] = [("page", page), ("limit", limit)]
        params += [("tag", f"{k}={v}") for k, v in (tags or {}).items()]
        params += [("property", f"{k}={v}") for k, v in (properties or {}).items()]
        for key, value in (("name", name), ("framework", framework), ("alias", alias)):
            if value:
                params.append((key, value))
        if archived:
            params.append(("archived", True))
        resp = self.request("GET", "/v1/models", params=params)
        return ModelVersionPage.model_validate(resp.json())

    def _version_path(self, ref: str) -> str:
        name, selector = split_ref(ref)
        return f"/v1/models/{name}/versions/{quote(selector)}"

    def get_model(self, ref: str) -> ModelVersionInfo:
        """A version by `name`, `name:3`, `name:latest` or `name@alias`."""
        return ModelVersionInfo.model_validate(self.request("GET", self._version_path(ref)).json())

    def update_model(self, ref: str, change: UpdateModelVersion) -> ModelVersionInfo:
        payload = change.model_dump(mode="json", exclude_none=True)
        resp = self.request("PATCH", self._version_path(ref), json=payload)
        return ModelVersionInfo.model_validate(resp.json())

    def delete_model(self, ref: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("DELETE", self._version_path(ref)).json()
        return result

    def set_alias(self, name: str, alias: str, version: int | str) -> dict[str, Any]:
        path = f"/v1/models/{name}/aliases/{alias}"
        result: dict[str, Any] = self.request("PUT", path, json={"version": version}).json()
        return result

    def get_alias(self, name: str, alias: str, at: datetime | None = None) -> dict[str, Any]:
        params = {"at": at.isoformat()} if at else {}
        path = f"/v1/models/{name}/aliases/{alias}"
        result: dict[str, Any] = self.request("GET", path, params=params).json()
        return result

    def audit(self, name: str, page: int = 1, limit: int = 100) -> dict[str, Any]:
        params = {"page": page, "limit": limit}
        resp = self.request("GET", f"/v1/models/{name}/audit", params=params)
        result: dict[str, Any] = resp.json()
        return result

    def download_model(
        self, ref: str, dest: Path, *, as_zip: bool = False, progress: Progress | None = None
    ) -> Path:
        """Every file of a version into a folder (or one zip), each verified."""
        info = self.get_model(ref)
        base = f"/v1/models/{info.model_name}/versions/{info.version}"
        label = f"{info.model_name}-{info.version}"
        return self._download(base, info.files, label, dest, as_zip, progress or _Silent())

    # -- datasets ----------------------------------------------------------------------------
    def register_dataset(
        self,
        name: str,
        path: Path,
        *,
        description: str = "",
        tags: dict[str, str] | None = None,
        idempotency_key: str | None = None,
        progress: Progress | None = None,
    ) -> DatasetVersionInfo:
        """Upload a CSV/Parquet file or folder; the registry profiles it."""
        body = RegisterDatasetVersion(
            files=self.upload_path(path, progress), description=description, tags=tags or {}
        )
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        resp = self._retrying(
            "POST",
            f"/v1/datasets/{name}/versions",
            json=body.model_dump(mode="json"),
            headers=headers,
        )
        return DatasetVersionInfo.model_validate(resp.json())

    def list_datasets(
        self,
        name: str | None = None,
        *,
        tags: dict[str, str] | None = None,
        page: int = 1,
        limit: int = 20,
    ) -> DatasetVersionPage:
        params: list[tuple[str, str | int]] = [("page", page), ("limit", limit)]
        params += [("tag", f"{k}={v}") for k, v in (tags or {}).items()]
        if name:
            params.append(("name", name))
        resp = self.request("GET", "/v1/datasets", params=params)
        return DatasetVersionPage.model_validate(resp.json())

    def get_dataset(self, ref: str) -> DatasetVersionInfo:
        name, selector = split_ref(ref)
        resp = self.request("GET", f"/v1/datasets/{name}/versions/{quote(selector)}")
        return DatasetVersionInfo.model_validate(resp.json())

    # -- downloads ---------------------------------------------------------------------------
    def _download(
        self,
        base: str,
        files: Sequence[FileEntry],
        label: str,
        dest: Path,
        as_zip: bool,
        progress: Progress,
    ) -> Path:
        dest.mkdir(parents=True, exist_ok=True)
        if as_zip:
            target = dest / f"{label}.zip"
            total = sum(f.size for f in files)
            self._fetch(f"{base}/download", {"format": "zip"}, target, label, total, progress)
            verify_zip(target, files)
            return target
        for f in files:
            target = _safe_target(dest, f.path)
            sha = self._fetch(f"{base}/files/{quote(f.path)}", {}, target, f.path, f.size, progress)
            if sha != f.sha256:
                target.unlink(missing_ok=True)
                raise ModelOpsClientError(0, f"{f.path}: downloaded sha256 {sha} != {f.sha256}")
        return dest

    def _fetch(
        self,
        path: str,
        params: dict[str, str],
        target: Path,
        label: str,
        total: int,
        progress: Progress,
    ) -> str:
        """Stream one response into target (via a .partial file); returns its sha256."""
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        digest = hashlib.sha256()
        progress.start(label, total)
        try:
            with self.http.stream("GET", path, params=params) as resp:
                if not resp.is_success:
                    resp.read()
                    raise_for_problem(resp)
                with partial.open("wb") as out:
                    _receive(resp, out, digest, progress)
        except httpx.TransportError as exc:
            partial.unlink(missing_ok=True)
            raise ModelOpsClientError(0, f"download of {label} broke off: {exc}") from exc
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        finally:
            progress.finish()
        partial.replace(target)
        return digest.hexdigest()


def _chunks(resp: httpx.Response) -> Iterator[bytes]:
    """The body as received (no re-chunking copies); decoded only if the server encoded it."""
    if resp.headers.get("content-encoding", "identity") == "identity":
        return resp.iter_raw()
    return resp.iter_bytes(CHUNK)


def _receive(resp: httpx.Response, out: BinaryIO, digest: Any, progress: Progress) -> None:
    """Receive on this thread while another hashes and writes (both release the GIL)."""
    pending: queue.Queue[bytes | None] = queue.Queue(maxsize=WRITE_AHEAD)
    failed: list[BaseException] = []

    def write() -> None:
        try:
            while (chunk := pending.get()) is not None:
                digest.update(chunk)
                out.write(chunk)
        except BaseException as exc:  # re-raised on the receiving thread
            failed.append(exc)
            while pending.get() is not None:  # drain so the receiver never blocks
                pass

    writer = threading.Thread(target=write, name="registry-download-writer", daemon=True)
    writer.start()
    try:
        for chunk in _chunks(resp):
            if failed:
                break
            pending.put(chunk)
            progress.advance(len(chunk))
    finally:
        pending.put(None)
        writer.join()
    if failed:
        raise failed[0]


def verify_zip(archive: Path, files: Sequence[FileEntry]) -> None:
    """Every manifest file is in the zip with its digest, and nothing else is."""
    expected = {f.path: f.sha256 for f in files}
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        if names != set(expected):
            raise ModelOpsClientError(0, f"{archive.name}: files differ from the manifest")
        for name, sha in expected.items():
            digest = hashlib.sha256()
            with zf.open(name) as member:
                while chunk := member.read(CHUNK):
                    digest.update(chunk)
            if digest.hexdigest() != sha:
                archive.unlink(missing_ok=True)
                raise ModelOpsClientError(0, f"{archive.name}: {name} does not match its sha256")

"""The registry SDK: register, find, download and change models and datasets.

Uploads stream: each file is hashed, skipped if the registry already holds its blob, else sent
as a raw body to `PUT /v1/blobs/{sha256}`; then one request registers the manifest under an
Idempotency-Key, so a retry after a timeout never creates a second version. Downloads are
verified against the manifest's digests before they are renamed into place.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from modelops_client.config import ClientSettings
from modelops_client.http import ModelOpsClientError, ServiceClient
from modelops_client.transfer import (
    Progress,
    Silent,
    StoreUnreachable,
    Transfers,
    Verifier,
    file_chunks,
    safe_target,
    sha256_of,
    verify_zip,
)
from modelops_contracts.api.registry import (
    CompleteUpload,
    DatasetVersionInfo,
    DatasetVersionPage,
    FileEntry,
    FileLink,
    ModelVersionInfo,
    ModelVersionPage,
    RegisterDatasetVersion,
    RegisterModelVersion,
    UpdateModelVersion,
    UploadStarted,
    VersionFiles,
)
from modelops_contracts.events import Lineage
from modelops_contracts.types import Framework

RETRIES = 3
RETRYABLE = (0, 502, 503, 504)
PARTS_FROM = 64 * 1024 * 1024
"""Files of at least this size are uploaded in parts, hashed while they move."""


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


class RegistryClient(ServiceClient):
    """A synchronous client of the registry."""

    def __init__(self, settings: ClientSettings | None = None, base_url: str | None = None) -> None:
        settings = settings or ClientSettings()
        super().__init__(
            base_url or settings.registry_url, user=settings.user, timeout_s=settings.timeout_s
        )
        self.transfers = Transfers(self.http, settings.timeout_s)
        self.parts_from = PARTS_FROM

    def close(self) -> None:
        self.transfers.close()
        super().close()

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
        """Hash, then upload unless the registry already holds this exact blob; a large file
        goes in parts, hashed while it moves."""
        size = local.stat().st_size
        if size >= self.parts_from and (
            entry := self._upload_parts(relative, local, size, progress)
        ):
            return entry
        sha, size = sha256_of(local)
        progress.start(relative, size)
        head = self.http.head(f"/v1/blobs/{sha}")
        if head.status_code == 200 and int(head.headers.get("content-length", -1)) == size:
            progress.advance(size)
        else:
            self._put_blob(sha, local, size, progress)
        progress.finish()
        return FileEntry(path=relative, sha256=sha, size=size)

    def _upload_parts(
        self, relative: str, local: Path, size: int, progress: Progress
    ) -> FileEntry | None:
        """Upload in parts straight into the store; None where the registry or the store
        cannot take parts (the caller uploads the file whole)."""
        try:
            resp = self._retrying("POST", "/v1/blobs/uploads", json={"size": size})
        except ModelOpsClientError as exc:
            if exc.status != 404:  # links are off there
                raise
            return None
        started = UploadStarted.model_validate(resp.json())
        progress.start(relative, size)
        try:
            sha, b3, parts = self.transfers.put_parts(started, local, size, progress)
        except StoreUnreachable:
            return None
        finally:
            progress.finish()
        body = CompleteUpload(
            upload_id=started.upload_id,
            sha256=sha,
            blake3=b3,
            size=size,
            part_size=started.part_size,
            parts=parts,
        )
        path = f"/v1/blobs/uploads/{started.upload}/complete"
        done = self._retrying("POST", path, json=body.model_dump(mode="json")).json()
        return FileEntry(
            path=relative, sha256=sha, size=size, blocks=done["blocks"], blake3=done.get("blake3")
        )

    def _put_blob(self, sha: str, local: Path, size: int, progress: Progress) -> None:
        """Straight into the store by a signed link when the registry offers one and the
        store is reachable from here; else streamed through the registry."""
        try:
            link = self._retrying("POST", f"/v1/blobs/{sha}/uploads").json()
        except ModelOpsClientError as exc:
            if exc.status != 404:  # links are off there
                raise
            link = {}
        if link.get("existed") or (link and self.transfers.put_link(link, local, size, progress)):
            return
        progress.start(local.name, size)
        headers = {"content-length": str(size), "content-type": "application/octet-stream"}
        for attempt in range(RETRIES):
            try:
                body = file_chunks(local, progress)  # a fresh stream per attempt
                self.request("PUT", f"/v1/blobs/{sha}", content=body, headers=headers)
                return
            except ModelOpsClientError as exc:
                if exc.status not in RETRYABLE or attempt == RETRIES - 1:
                    raise
                progress.start(local.name, size)

    def upload_path(self, path: Path, progress: Progress | None = None) -> list[FileEntry]:
        return [self.upload_file(r, p, progress or Silent()) for r, p in local_files(path)]

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
        """Every file of a version into a folder (or one zip), each verified. One call to the
        registry lists the files with signed links; the bytes come straight from the store."""
        if as_zip:
            info = self.get_model(ref)
            base = f"/v1/models/{info.model_name}/versions/{info.version}"
            label = f"{info.model_name}-{info.version}"
            return self._download_zip(base, info.files, label, dest, progress or Silent())
        resp = self.request("GET", f"{self._version_path(ref)}/files")
        listing = VersionFiles.model_validate(resp.json())
        base = f"/v1/models/{listing.name}/versions/{listing.version}"
        return self._download(base, listing.files, dest, progress or Silent())

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
        self, base: str, files: Sequence[FileLink], dest: Path, progress: Progress
    ) -> Path:
        dest.mkdir(parents=True, exist_ok=True)
        for f in files:
            target = safe_target(dest, f.path)
            path = f"{base}/files/{quote(f.path)}"
            verifier = Verifier(f)
            self.transfers.fetch(path, {}, target, f.path, f.size, progress, verifier, f.url)
        return dest

    def _download_zip(
        self, base: str, files: Sequence[FileEntry], label: str, dest: Path, progress: Progress
    ) -> Path:
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / f"{label}.zip"
        total = sum(f.size for f in files)
        self.transfers.fetch(f"{base}/download", {"format": "zip"}, target, label, total, progress)
        verify_zip(target, files)
        return target

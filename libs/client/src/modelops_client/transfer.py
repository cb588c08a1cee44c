"""Moving bytes for the registry SDK: hashing, progress, and verified downloads.

A file download asks the registry, which answers 307 with a signed link to the object store;
the bytes then come straight from the store, read in large chunks with urllib3 (which moves
them at several times httpx's rate), hashed and written. A registry
that streams instead (or a link the client cannot reach) is read through the registry.
"""

import hashlib
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import httpx
import urllib3

from modelops_client.http import ModelOpsClientError, raise_for_problem
from modelops_contracts.api.registry import FileEntry

CHUNK = 4 * 1024 * 1024
REDIRECTS = (301, 302, 303, 307, 308)


class Progress(Protocol):
    """Told about bytes moving: one task per file (or archive)."""

    def start(self, label: str, total: int) -> None: ...
    def advance(self, n: int) -> None: ...
    def finish(self) -> None: ...


class Silent:
    """Progress that shows nothing."""

    def start(self, label: str, total: int) -> None:
        return None

    def advance(self, n: int) -> None:
        return None

    def finish(self) -> None:
        return None


def sha256_of(path: Path) -> tuple[str, int]:
    """Digest and size of a local file."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest(), f.tell()


def file_chunks(path: Path, progress: Progress) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            progress.advance(len(chunk))
            yield chunk


def safe_target(root: Path, relative: str) -> Path:
    target = (root / PurePosixPath(relative)).resolve()
    if root.resolve() not in target.parents:
        raise ModelOpsClientError(0, f"refusing to write {relative!r} outside {root}")
    return target


def _write_verified(chunks: Iterator[bytes], partial: Path, progress: Progress) -> str:
    """Write the chunks, hashing each on the way; returns the sha256.

    One thread on purpose: handing 4 MiB chunks to a hashing/writing thread measured slower
    (0.46-0.59 of MinIO's own download against 0.71 for this loop, on a loaded 2-core box).
    """
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for chunk in chunks:
            digest.update(chunk)
            out.write(chunk)
            progress.advance(len(chunk))
    return digest.hexdigest()


def _raw_chunks(resp: httpx.Response) -> Iterator[bytes]:
    """The body as received (no re-chunking copies); decoded only if the server encoded it."""
    if resp.headers.get("content-encoding", "identity") == "identity":
        return resp.iter_raw()
    return resp.iter_bytes(CHUNK)


class Transfers:
    """Verified downloads and direct uploads: a registry client's httpx session for the
    registry, a urllib3 pool for signed store links."""

    def __init__(self, http: httpx.Client, timeout_s: float) -> None:
        self.http = http
        timeout = urllib3.Timeout(connect=10.0, read=timeout_s)
        self.links = urllib3.PoolManager(timeout=timeout, retries=False)

    def close(self) -> None:
        self.links.clear()

    def fetch(  # one download's whole description
        self,
        path: str,
        params: dict[str, str],
        target: Path,
        label: str,
        total: int,
        progress: Progress,
    ) -> str:
        """Download into target (via a .partial file, removed on failure); returns its sha256."""
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        progress.start(label, total)
        try:
            sha = self._fetch(path, params, partial, progress)
        except (httpx.TransportError, urllib3.exceptions.HTTPError) as exc:
            partial.unlink(missing_ok=True)
            raise ModelOpsClientError(0, f"download of {label} broke off: {exc}") from exc
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        finally:
            progress.finish()
        partial.replace(target)
        return sha

    def _fetch(self, path: str, params: dict[str, str], partial: Path, progress: Progress) -> str:
        with self.http.stream("GET", path, params=params) as resp:
            if resp.status_code in REDIRECTS and "location" in resp.headers:
                link = self._open_link(resp.headers["location"])
                if link is None:  # the store is not reachable from here: through the registry
                    return self._fetch(path, {**params, "stream": "true"}, partial, progress)
                try:
                    return _write_verified(iter(lambda: link.read(CHUNK), b""), partial, progress)
                finally:
                    link.release_conn()
            if not resp.is_success:
                resp.read()
                raise_for_problem(resp)
            return _write_verified(_raw_chunks(resp), partial, progress)

    def put_link(self, link: dict[str, Any], path: Path, size: int, progress: Progress) -> bool:
        """PUT a file to a signed upload link (the store checks its checksum header); False
        if the store cannot be reached from here (upload through the registry instead)."""
        headers = {**link.get("headers", {}), "Content-Length": str(size)}
        headers.setdefault("Content-Type", "application/octet-stream")
        try:
            resp = self.links.request(
                "PUT", link["url"], body=file_chunks(path, progress), headers=headers
            )
        except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError):
            return False
        except urllib3.exceptions.HTTPError as exc:
            raise ModelOpsClientError(0, f"upload of {path.name} broke off: {exc}") from exc
        if resp.status >= 300:
            detail = resp.data[:500].decode(errors="replace")
            raise ModelOpsClientError(
                resp.status, f"the object store refused {path.name}: {detail}"
            )
        return True

    def _open_link(self, url: str) -> Any:
        """The store's response to a signed link, or None if the store cannot be reached."""
        try:
            resp = self.links.request("GET", url, preload_content=False, redirect=False)
        except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError):
            return None
        if resp.status != 200:
            detail = resp.read(500).decode(errors="replace")
            resp.release_conn()
            raise ModelOpsClientError(resp.status, f"the object store refused the link: {detail}")
        return resp


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

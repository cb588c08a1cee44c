"""S3 requests the MinIO SDK does not offer: a streamed PUT the store itself verifies, and
upload and download links signed for the address clients use.

A single PUT signed with `x-amz-content-sha256: <expected digest>` makes the store hash the
bytes as they arrive and refuse the object if they differ (AWS SigV4's signed payload), so the
service streams the body through without hashing it itself, and a mismatch never lands.
"""

import base64
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

import httpx
from minio import Minio
from minio.credentials.credentials import Credentials
from minio.signer import sign_v4_s3
from minio.time import to_amz_date

from modelops_servicekit.errors import Invalid, Unavailable
from modelops_servicekit.settings import ObjectStoreSettings

CHECKSUM_MODE: dict[str, str | list[str] | tuple[str]] = {"x-amz-checksum-mode": "ENABLED"}
"""Asks a HEAD for the checksum the store verified at upload."""
SINGLE_PUT_MAX = 5 * 1024**3
"""S3's largest single PUT; larger uploads go multi-part."""
SHA256_MISMATCH = ("XAmzContentSHA256Mismatch", "BadDigest")
PUT_TIMEOUT = httpx.Timeout(30.0, read=600.0, write=600.0)


def checksum_header(sha256: str) -> str:
    """`x-amz-checksum-sha256` for a hex digest: the store refuses a body that differs."""
    return base64.b64encode(bytes.fromhex(sha256)).decode()


def checksum_hex(headers: Mapping[str, str]) -> str:
    """The hex SHA-256 a store verified at upload (from a HEAD's lower-cased headers), or ""."""
    value = headers.get("x-amz-checksum-sha256", "")
    return base64.b64decode(value).hex() if value else ""


def _base_url(endpoint: str, secure: bool) -> str:
    return f"{'https' if secure else 'http'}://{endpoint}"


def signed_put(
    settings: ObjectStoreSettings, bucket: str, key: str, sha256: str, length: int
) -> tuple[str, dict[str, str]]:
    """URL and headers of a PUT of `length` bytes that the store accepts only if they hash
    to `sha256` (the digest is also kept as the object's `sha256` metadata)."""
    url = f"{_base_url(settings.endpoint, settings.secure)}/{bucket}/{quote(key)}"
    date = datetime.now(UTC)
    headers: dict[str, str] = {
        "Host": urlsplit(url).netloc,
        "Content-Length": str(length),
        "Content-Type": "application/octet-stream",
        "x-amz-content-sha256": sha256,
        "x-amz-date": to_amz_date(date),
        "x-amz-meta-sha256": sha256,
    }
    credentials = Credentials(
        settings.access_key.get_secret_value(), settings.secret_key.get_secret_value()
    )
    signed = sign_v4_s3(
        method="PUT",
        url=urlsplit(url),
        region=settings.region,
        headers=dict(headers),
        credentials=credentials,
        content_sha256=sha256,
        date=date,
    )
    return url, {k: str(v) for k, v in signed.items()}


async def _exactly(chunks: AsyncIterable[bytes], key: str, length: int) -> AsyncIterator[bytes]:
    """The chunks, refusing a body longer or shorter than declared (before the wire does)."""
    sent = 0
    async for chunk in chunks:
        sent += len(chunk)
        if sent > length:
            raise Invalid(f"upload of {key} is longer than {length} bytes")
        yield chunk
    if sent < length:
        raise Invalid(f"upload of {key} is shorter than {length} bytes")


async def put_verified(
    settings: ObjectStoreSettings,
    bucket: str,
    key: str,
    chunks: AsyncIterable[bytes],
    sha256: str,
    length: int,
) -> None:
    """Stream exactly `length` bytes into one PUT the store verifies against `sha256`.

    Raises Invalid on a digest mismatch or a wrong length; a broken source or connection
    leaves nothing stored (the store only keeps a PUT that arrived whole and matched).
    """
    url, headers = signed_put(settings, bucket, key, sha256, length)
    async with httpx.AsyncClient(timeout=PUT_TIMEOUT) as http:
        try:
            resp = await http.put(url, content=_exactly(chunks, key, length), headers=headers)
        except httpx.TransportError as exc:
            raise Unavailable(f"object store unreachable while storing {key}: {exc}") from exc
    if resp.is_success:
        return
    if any(code in resp.text for code in SHA256_MISMATCH):
        raise Invalid(f"sha256 mismatch for {key}: the bytes received do not hash to {sha256}")
    raise Unavailable(f"object store refused {key}: HTTP {resp.status_code} {resp.text[:300]}")


class StoreLinks:
    """Presigned links for the address clients reach the store by (`public_url`)."""

    def __init__(self, settings: ObjectStoreSettings, bucket: str) -> None:
        public = urlsplit(settings.public_url or _base_url(settings.endpoint, settings.secure))
        self.bucket = bucket
        self._signer = Minio(
            public.netloc,
            access_key=settings.access_key.get_secret_value(),
            secret_key=settings.secret_key.get_secret_value(),
            secure=public.scheme == "https",
            region=settings.region,  # signing is offline: no region lookup request
        )

    def download(self, key: str, filename: str, expires: timedelta) -> str:
        """A link that downloads `key` as `filename`; it must be used within `expires`."""
        disposition = f'attachment; filename="{filename}"'
        return self._signer.presigned_get_object(
            self.bucket,
            key,
            expires=expires,
            response_headers={"response-content-disposition": disposition},
        )

    def upload(self, key: str, expires: timedelta) -> str:
        """A link that PUTs `key`; the client sends `x-amz-checksum-sha256` with it, and the
        store refuses a body that does not match that checksum."""
        return self._signer.presigned_put_object(self.bucket, key, expires=expires)

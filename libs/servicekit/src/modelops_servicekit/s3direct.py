"""S3 requests the MinIO SDK does not offer: a streamed PUT the store itself verifies, uploads
in parts whose every part the store verifies (SHA-256 checksums), and upload and download
links signed for the address clients use.

A single PUT signed with `x-amz-content-sha256: <expected digest>` makes the store hash the
bytes as they arrive and refuse the object if they differ (AWS SigV4's signed payload), so the
service streams the body through without hashing it itself, and a mismatch never lands.
"""

import base64
import hashlib
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit
from xml.sax.saxutils import escape

import httpx
from minio import Minio
from minio.credentials.credentials import Credentials
from minio.signer import sign_v4_s3
from minio.time import to_amz_date

from modelops_servicekit.errors import Invalid, Unavailable
from modelops_servicekit.settings import ObjectStoreSettings

CHECKSUM_MODE_HEADER = {"x-amz-checksum-mode": "ENABLED"}
"""Asks a HEAD for the checksum the store verified at upload."""
CHECKSUM_MODE: dict[str, str | list[str] | tuple[str]] = dict(CHECKSUM_MODE_HEADER)
SINGLE_PUT_MAX = 5 * 1024**3
"""S3's largest single PUT; larger uploads go multi-part."""
SHA256_MISMATCH = ("XAmzContentSHA256Mismatch", "BadDigest")
PUT_TIMEOUT = httpx.Timeout(30.0, read=600.0, write=600.0)


def checksum_header(sha256: str) -> str:
    """`x-amz-checksum-sha256` for a hex digest: the store refuses a body that differs."""
    return base64.b64encode(bytes.fromhex(sha256)).decode()


def checksum_hex(headers: Mapping[str, str]) -> str:
    """The hex SHA-256 a store verified at upload (from a HEAD's lower-cased headers), or ""
    (also for an object uploaded in parts, whose checksum covers its parts' digests)."""
    value = headers.get("x-amz-checksum-sha256", "")
    return base64.b64decode(value).hex() if value and "-" not in value else ""


def _base_url(endpoint: str, secure: bool) -> str:
    return f"{'https' if secure else 'http'}://{endpoint}"


def _signed(
    settings: ObjectStoreSettings,
    method: str,
    path: str,
    content_sha256: str,
    headers: Mapping[str, str],
) -> tuple[str, dict[str, str]]:
    """URL and SigV4-signed headers of one request to the store (path with its query)."""
    url = f"{_base_url(settings.endpoint, settings.secure)}{path}"
    date = datetime.now(UTC)
    unsigned = {
        **headers,
        "Host": urlsplit(url).netloc,
        "x-amz-content-sha256": content_sha256,
        "x-amz-date": to_amz_date(date),
    }
    credentials = Credentials(
        settings.access_key.get_secret_value(), settings.secret_key.get_secret_value()
    )
    signed = sign_v4_s3(
        method=method,
        url=urlsplit(url),
        region=settings.region,
        headers=dict(unsigned),
        credentials=credentials,
        content_sha256=content_sha256,
        date=date,
    )
    return url, {k: str(v) for k, v in signed.items()}


def signed_put(
    settings: ObjectStoreSettings, bucket: str, key: str, sha256: str, length: int
) -> tuple[str, dict[str, str]]:
    """URL and headers of a PUT of `length` bytes that the store accepts only if they hash
    to `sha256` (the digest is also kept as the object's `sha256` metadata)."""
    headers = {
        "Content-Length": str(length),
        "Content-Type": "application/octet-stream",
        "x-amz-meta-sha256": sha256,
    }
    return _signed(settings, "PUT", f"/{bucket}/{quote(key)}", sha256, headers)


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

    def upload_part(self, key: str, upload_id: str, number: int, expires: timedelta) -> str:
        """A link that PUTs part `number` of an upload (with its `x-amz-checksum-sha256`)."""
        query: dict[str, str | list[str] | tuple[str]] = {
            "uploadId": upload_id,
            "partNumber": str(number),
        }
        return self._signer.get_presigned_url(
            "PUT", self.bucket, key, expires=expires, extra_query_params=query
        )


S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
REFUSED_PARTS = frozenset(
    {"InvalidPart", "InvalidPartOrder", "NoSuchUpload", "EntityTooSmall", "InvalidArgument"}
)
"""What the store answers when the parts named do not make a valid object."""


@dataclass(frozen=True)
class Part:
    """A part the store accepted: number, ETag, and its SHA-256 (hex)."""

    number: int
    etag: str
    sha256: str


def _answer(body: bytes) -> tuple[str, dict[str, str]]:
    """The root tag of an S3 XML answer (namespace dropped) and its children's texts."""
    try:
        root = ET.fromstring(body)  # noqa: S314 - the store's own answer
    except ET.ParseError:
        return "", {}
    return root.tag.removeprefix(S3_NS), {c.tag.removeprefix(S3_NS): c.text or "" for c in root}


class MultipartUploads:
    """Uploads in parts that the store verifies part by part (SHA-256 checksums): started
    and completed here, the parts PUT by clients through signed links."""

    def __init__(self, settings: ObjectStoreSettings, bucket: str) -> None:
        self.settings = settings
        self.bucket = bucket
        self._http: httpx.AsyncClient | None = None

    def _client(self) -> httpx.AsyncClient:
        """One connection pool for the process (a new client costs ~15 ms of TLS setup)."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=PUT_TIMEOUT)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def _path(self, key: str, query: str) -> str:
        return f"/{self.bucket}/{quote(key)}" + (f"?{query}" if query else "")

    async def _send(
        self,
        method: str,
        key: str,
        query: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        url, signed = _signed(
            self.settings,
            method,
            self._path(key, query),
            hashlib.sha256(body).hexdigest(),
            {"Content-Length": str(len(body)), **(headers or {})},
        )
        try:
            return await self._client().request(method, url, content=body, headers=signed)
        except httpx.TransportError as exc:
            raise Unavailable(f"object store unreachable for {key}: {exc}") from exc

    async def start(self, key: str) -> str:
        """A new upload to `key` whose parts carry SHA-256 checksums; its upload id."""
        resp = await self._send(
            "POST", key, "uploads=", headers={"x-amz-checksum-algorithm": "SHA256"}
        )
        tag, fields = _answer(resp.content)
        if not resp.is_success or tag != "InitiateMultipartUploadResult":
            code = fields.get("Code", "")
            raise Unavailable(f"object store refused an upload to {key}: {resp.status_code} {code}")
        return fields["UploadId"]

    async def complete(self, key: str, upload_id: str, parts: Sequence[Part]) -> None:
        """Join the parts (`joined` tells the composite SHA-256 the store computed over their
        verified digests). Invalid if a part is missing or its digest or ETag differs."""
        items = "".join(
            f"<Part><PartNumber>{p.number}</PartNumber><ETag>{escape(p.etag)}</ETag>"
            f"<ChecksumSHA256>{checksum_header(p.sha256)}</ChecksumSHA256></Part>"
            for p in parts
        )
        body = f"<CompleteMultipartUpload>{items}</CompleteMultipartUpload>".encode()
        query = f"uploadId={quote(upload_id, safe='')}"
        resp = await self._send("POST", key, query, body, {"Content-Type": "application/xml"})
        tag, fields = _answer(resp.content)  # an error may come with 200 (S3's own rule)
        if tag == "CompleteMultipartUploadResult" and resp.is_success:
            return
        code, message = fields.get("Code", ""), fields.get("Message", "")
        if code in REFUSED_PARTS:
            raise Invalid(f"the store refused to join the parts of {key}: {code}: {message}")
        raise Unavailable(f"object store could not join {key}: {resp.status_code} {code}")

    async def joined(self, key: str) -> tuple[int, str] | None:
        """Size and composite SHA-256 (hex) of an object joined from parts; None if there is
        no object (its checksum is "" if it was not uploaded in checksummed parts)."""
        resp = await self._send("HEAD", key, "", headers=CHECKSUM_MODE_HEADER)
        if resp.status_code == 404:
            return None
        if not resp.is_success:
            raise Unavailable(f"object store could not stat {key}: HTTP {resp.status_code}")
        value = resp.headers.get("x-amz-checksum-sha256", "")
        composite = base64.b64decode(value.split("-", 1)[0]).hex() if "-" in value else ""
        return int(resp.headers.get("content-length", "0")), composite

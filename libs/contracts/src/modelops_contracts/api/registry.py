"""The registry's HTTP bodies: registering, updating and reading model and dataset versions."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from modelops_contracts.events.model_version import Lineage
from modelops_contracts.types import Blake3, Framework, Sha256, Version

_BODY = ConfigDict(extra="forbid", protected_namespaces=())
_VIEW = ConfigDict(extra="ignore", protected_namespaces=())


MiB = 1024 * 1024
PART_SIZE_MIN = 5 * MiB
"""S3's smallest part (every part but the last)."""
PART_SIZE_MAX = 5 * 1024 * MiB
MAX_PARTS = 10_000
MAX_BLOB_SIZE = 5 * 1024 * 1024 * MiB
"""S3's largest object: 5 TiB."""


class BlockDigest(BaseModel):
    """SHA-256 over the SHA-256s of a file's consecutive `part_size` blocks (S3's composite
    SHA-256 checksum). The object store verified each block's digest as it arrived; a download
    of an entry without a BLAKE3 is checked by it."""

    model_config = _BODY

    part_size: int = Field(ge=PART_SIZE_MIN, le=PART_SIZE_MAX)
    sha256: Sha256


class FileEntry(BaseModel):
    """One file of a version: its relative path, its digest and its size (and, for a file
    uploaded in parts, the block digest the store verified and the file's BLAKE3)."""

    model_config = _BODY

    path: str = Field(min_length=1, max_length=1024)
    sha256: Sha256
    size: int = Field(ge=0)
    blocks: BlockDigest | None = None
    blake3: Blake3 | None = Field(
        default=None,
        description="BLAKE3 of the whole file, hashed by the uploading client from the same "
        "reads as the parts the store verified; downloads check it (at ~3.5x SHA-256's speed)",
    )

    @model_validator(mode="after")
    def _blake3_with_blocks(self) -> "FileEntry":
        if self.blake3 is not None and self.blocks is None:
            raise ValueError(
                "blake3 is recorded only for a file uploaded in parts (an entry with blocks)"
            )
        return self


class FileView(FileEntry):
    """A file of a version as the registry shows it (fields a newer registry adds are
    ignored, as in every view)."""

    model_config = _VIEW


class FileLink(FileView):
    """A file of a version with a signed link to its bytes in the store."""

    url: str | None = Field(
        description="GET it straight from the store (None where links are off: "
        "GET .../files/{path}?stream=true through the registry instead)"
    )


class VersionFiles(BaseModel):
    """The files of one model or dataset version, each with a link: a whole download for one
    call to the registry."""

    model_config = _VIEW

    name: str
    version: Version
    files: list[FileLink]
    expires_at: datetime | None = Field(description="when the links stop working")


class StartUpload(BaseModel):
    """Upload one file in parts, straight into the object store."""

    model_config = _BODY

    size: int = Field(ge=1, le=MAX_BLOB_SIZE, description="the file's size in bytes")


class UploadStarted(BaseModel):
    """Where to PUT each part: part N (1-based) is bytes [(N-1)*part_size, N*part_size), sent
    with `x-amz-checksum-sha256: base64(sha256(part))`; the store refuses a part that differs."""

    model_config = _VIEW

    upload: str
    upload_id: str
    part_size: int
    parts: list[str]
    expires_at: datetime


class UploadedPart(BaseModel):
    """A part the store accepted: its number, the ETag it answered and the part's SHA-256."""

    model_config = _BODY

    number: int = Field(ge=1, le=MAX_PARTS)
    etag: str = Field(min_length=1, max_length=200)
    sha256: Sha256


class CompleteUpload(BaseModel):
    """Join the parts into the blob; `sha256` (and `blake3`) are the whole file's digests."""

    model_config = _BODY

    upload_id: str = Field(min_length=1, max_length=1024)
    sha256: Sha256
    blake3: Blake3 | None = None
    size: int = Field(ge=1, le=MAX_BLOB_SIZE)
    part_size: int = Field(ge=PART_SIZE_MIN, le=PART_SIZE_MAX)
    parts: list[UploadedPart] = Field(min_length=1, max_length=MAX_PARTS)


class TensorSpec(BaseModel):
    """One input or output of a model (Open Inference Protocol's tensor metadata)."""

    model_config = ConfigDict(extra="allow")

    name: str
    datatype: str
    shape: list[int] = Field(default_factory=list)


class RegisterModelVersion(BaseModel):
    """`POST /v1/models/{name}/versions`: the files (already uploaded as blobs) and metadata."""

    model_config = _BODY

    files: list[FileEntry]
    framework: Framework | None = None
    """Detected from the files when omitted."""
    framework_version: str | None = None
    description: str = Field(default="", max_length=10_000)
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, str] = Field(default_factory=dict)
    lineage: Lineage = Field(default_factory=Lineage)
    inputs: list[TensorSpec] | None = None
    """Input schema; detected for ONNX, given for the other frameworks."""
    outputs: list[TensorSpec] | None = None
    trusted: bool = False
    """Required for pickle-based files: the caller vouches for them (recorded as trusted_by)."""
    source_uri: str | None = None
    """An external artifact this version only references (then `files` may be empty)."""


class UpdateModelVersion(BaseModel):
    """`PATCH /v1/models/{name}/versions/{version}`: mutable metadata."""

    model_config = _BODY

    set_tags: dict[str, str] = Field(default_factory=dict)
    remove_tags: list[str] = Field(default_factory=list)
    add_properties: dict[str, str] = Field(default_factory=dict)
    """Properties are add-only: an existing key cannot change its value."""
    description: str | None = Field(default=None, max_length=10_000)
    archived: bool | None = None


class SetAlias(BaseModel):
    """`PUT /v1/models/{name}/aliases/{alias}`: point the alias at a version."""

    model_config = _BODY

    version: Version | str
    """A number, `latest`, or another alias written `@alias`."""


class ModelVersionInfo(BaseModel):
    """A model version as the registry shows it."""

    model_config = _VIEW

    model_name: str
    version: Version
    framework: Framework
    framework_version: str | None = None
    description: str = ""
    files: list[FileView]
    content_digest: Sha256
    size_bytes: int = 0
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, str] = Field(default_factory=dict)
    lineage: Lineage = Field(default_factory=Lineage)
    inputs: list[TensorSpec] | None = None
    outputs: list[TensorSpec] | None = None
    opset: int | None = None
    trusted: bool = False
    trusted_by: str | None = None
    source_uri: str | None = None
    artifact_uri: str
    aliases: list[str] = Field(default_factory=list)
    deployments: list[dict[str, str]] = Field(default_factory=list)
    """The active deployments holding this version (shown when one version is read)."""
    archived: bool = False
    created_by: str
    created_at: datetime
    updated_at: datetime | None = None


class ModelVersionPage(BaseModel):
    """One page of a search, newest first."""

    model_config = _VIEW

    items: list[ModelVersionInfo]
    page: int
    limit: int
    total: int


class RegisterDatasetVersion(BaseModel):
    """`POST /v1/datasets/{name}/versions`: CSV or Parquet files (already uploaded as blobs)."""

    model_config = _BODY

    files: list[FileEntry]
    description: str = Field(default="", max_length=10_000)
    tags: dict[str, str] = Field(default_factory=dict)
    lineage: Lineage = Field(default_factory=Lineage)


class DatasetVersionInfo(BaseModel):
    """A dataset version with its profile."""

    model_config = _VIEW

    dataset_name: str
    version: Version
    format: str
    files: list[FileView]
    content_digest: Sha256
    size_bytes: int = 0
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    lineage: Lineage = Field(default_factory=Lineage)
    profile: dict[str, JsonValue] = Field(default_factory=dict)
    artifact_uri: str
    created_by: str
    created_at: datetime


class DatasetVersionPage(BaseModel):
    """One page of dataset versions, newest first."""

    model_config = _VIEW

    items: list[DatasetVersionInfo]
    page: int
    limit: int
    total: int

"""The registry's HTTP bodies: registering, updating and reading model and dataset versions."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from modelops_contracts.events.model_version import Lineage
from modelops_contracts.types import Framework, Sha256, Version

_BODY = ConfigDict(extra="forbid", protected_namespaces=())
_VIEW = ConfigDict(extra="ignore", protected_namespaces=())


class FileEntry(BaseModel):
    """One file of a version: its relative path, its digest and its size."""

    model_config = _BODY

    path: str = Field(min_length=1, max_length=1024)
    sha256: Sha256
    size: int = Field(ge=0)


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
    files: list[FileEntry]
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
    files: list[FileEntry]
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

"""Facts about models, their versions, aliases and datasets (published by the registry)."""

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from modelops_contracts.events.base import Event
from modelops_contracts.types import ArtifactUri, Framework, ModelName, Sha256, Version


class Lineage(BaseModel):
    """Where a version came from: the run, the data and the code."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    run_id: str | None = None
    experiment: str | None = None
    datasets: list[str] = Field(default_factory=list)
    """Dataset versions used, as `name:version`."""
    git_repository: str | None = None
    git_branch: str | None = None
    git_commit: str | None = None


class ModelVersionRegistered(Event):
    """The registry accepted a new version; its files are readable under artifact_uri."""

    subject: ClassVar[str] = "modelops.model_version.registered.v1"

    model_name: ModelName
    version: Version
    artifact_uri: ArtifactUri
    content_digest: Sha256
    framework: Framework
    framework_version: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    lineage: Lineage = Field(default_factory=Lineage)
    created_by: str = "unknown"

    def entity(self) -> str:
        return f"models/{self.model_name}/versions/{self.version}"


class ModelVersionUpdated(Event):
    """Mutable metadata of a version changed (tags, description, properties, archived)."""

    subject: ClassVar[str] = "modelops.model_version.updated.v1"

    model_name: ModelName
    version: Version
    tags: dict[str, str] | None = None
    description: str | None = None
    properties_added: dict[str, str] = Field(default_factory=dict)
    archived: bool | None = None
    updated_by: str = "unknown"

    def entity(self) -> str:
        return f"models/{self.model_name}/versions/{self.version}"


class ModelVersionDeleted(Event):
    """A version was deleted; its number is never reused."""

    subject: ClassVar[str] = "modelops.model_version.deleted.v1"

    model_name: ModelName
    version: Version
    deleted_by: str = "unknown"

    def entity(self) -> str:
        return f"models/{self.model_name}/versions/{self.version}"


class ModelAliasSet(Event):
    """A movable alias (e.g. `champion`) now points at a version."""

    subject: ClassVar[str] = "modelops.model_alias.set.v1"

    model_name: ModelName
    alias: ModelName
    version: Version
    previous_version: Version | None = None
    set_by: str = "unknown"

    def entity(self) -> str:
        return f"models/{self.model_name}/aliases/{self.alias}"


class DatasetVersionRegistered(Event):
    """A dataset version was stored with its digests and profile."""

    subject: ClassVar[str] = "modelops.dataset_version.registered.v1"

    dataset_name: ModelName
    version: Version
    artifact_uri: ArtifactUri
    content_digest: Sha256
    format: str
    row_count: int | None = None
    columns: list[str] = Field(default_factory=list)
    profile_uri: ArtifactUri | None = None
    created_by: str = "unknown"

    def entity(self) -> str:
        return f"datasets/{self.dataset_name}/versions/{self.version}"

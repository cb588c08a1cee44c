"""Facts about packages, images and profiles (published by the builder)."""

from typing import ClassVar

from modelops_contracts.events.base import Event
from modelops_contracts.types import ArtifactUri, ModelName, Sha256, Version


class ImageBuilt(Event):
    """An image for a package exists (built now, or reused for the same manifest digest)."""

    subject: ClassVar[str] = "modelops.image.built.v1"

    package_id: str
    model_name: ModelName
    version: Version
    image: str
    image_id: str
    manifest_digest: Sha256
    base_image: str
    size_bytes: int
    build_seconds: float
    reused: bool = False

    def entity(self) -> str:
        return f"packages/{self.package_id}"


class ImageBuildFailed(Event):
    """A build ended without an image; log_tail says why."""

    subject: ClassVar[str] = "modelops.image.build_failed.v1"

    package_id: str
    model_name: ModelName
    version: Version
    reason: str
    log_tail: str = ""

    def entity(self) -> str:
        return f"packages/{self.package_id}"


class ModelVersionProfiled(Event):
    """An image was load-tested; the profile recommends resources for a latency target."""

    subject: ClassVar[str] = "modelops.model_version.profiled.v1"

    model_name: ModelName
    version: Version
    package_id: str
    profile_uri: ArtifactUri
    recommended_cpu: float
    recommended_memory_mb: int
    latency_target_ms: float
    p50_ms: float
    p99_ms: float
    max_rps: float

    def entity(self) -> str:
        return f"models/{self.model_name}/versions/{self.version}"

"""Settings of the registry service (env MODELOPS_*)."""

from typing import ClassVar

from pydantic import Field

from modelops_servicekit.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    """The registry's settings: the shared sections, its database, bucket and port."""

    service: ClassVar[str] = "registry"
    default_port: ClassVar[int] = 8101

    register_attempts: int = Field(default=1000, ge=1)
    """How often a registration retries the next version number when another one took it."""
    inspect_max_bytes: int = Field(default=512 * 1024**2, ge=0)
    """Model files larger than this are not opened for framework detection."""
    profile_max_bytes: int = Field(default=1024**3, ge=0)
    """Datasets larger than this are registered without a profile."""
    store_links: bool = True
    """Bytes skip the registry, as with GitLab's and Docker's registries: a file download
    answers 307 with a signed link to the object store (`?stream=true` streams through
    instead), and `POST /v1/blobs/{sha256}/uploads` hands out a signed upload link."""
    store_link_ttl_s: int = Field(default=300, ge=1)
    """How long a signed link stays valid (a transfer only has to start within it)."""
    max_page_size: int = Field(default=200, ge=1)
    """The largest page a search returns."""

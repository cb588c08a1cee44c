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
    download_links: bool = True
    """A file download answers 307 with a signed link to the object store (the bytes skip the
    registry, as GitLab and Docker registries do); `?stream=true` streams through instead."""
    download_link_ttl_s: int = Field(default=900, ge=1)
    """How long a signed download link stays valid (it only has to start within it)."""
    max_page_size: int = Field(default=200, ge=1)
    """The largest page a search returns."""

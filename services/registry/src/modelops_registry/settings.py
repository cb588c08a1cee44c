"""Settings of the registry service (env MODELOPS_*)."""

from typing import ClassVar

from modelops_servicekit.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    """The registry's settings: the shared sections, its database, bucket and port."""

    service: ClassVar[str] = "registry"
    default_port: ClassVar[int] = 8101

"""Settings of the builder service (env MODELOPS_*)."""

from typing import ClassVar

from modelops_servicekit.settings import ServiceSettings


class BuilderSettings(ServiceSettings):
    """The builder's settings: the shared sections, its database, bucket and port."""

    service: ClassVar[str] = "builder"
    default_port: ClassVar[int] = 8102

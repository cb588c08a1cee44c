"""Settings of the jobs service (env MODELOPS_*)."""

from typing import ClassVar

from modelops_servicekit.settings import ServiceSettings


class JobsSettings(ServiceSettings):
    """The jobs's settings: the shared sections, its database, bucket and port."""

    service: ClassVar[str] = "jobs"
    default_port: ClassVar[int] = 8108

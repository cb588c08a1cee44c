"""Settings of the notifier service (env MODELOPS_*)."""

from typing import ClassVar

from modelops_servicekit.settings import ServiceSettings


class NotifierSettings(ServiceSettings):
    """The notifier's settings: the shared sections, its database, bucket and port."""

    service: ClassVar[str] = "notifier"
    default_port: ClassVar[int] = 8107

"""Settings of the data collector service (env MODELOPS_*)."""

from typing import ClassVar

from modelops_servicekit.settings import ServiceSettings


class DataCollectorSettings(ServiceSettings):
    """The data collector's settings: the shared sections, its database, bucket and port."""

    service: ClassVar[str] = "data_collector"
    default_port: ClassVar[int] = 8105

"""Settings of the drift monitor service (env MODELOPS_*)."""

from typing import ClassVar

from modelops_servicekit.settings import ServiceSettings


class DriftMonitorSettings(ServiceSettings):
    """The drift monitor's settings: the shared sections, its database, bucket and port."""

    service: ClassVar[str] = "drift_monitor"
    default_port: ClassVar[int] = 8106

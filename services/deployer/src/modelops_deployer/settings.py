"""Settings of the deployer service (env MODELOPS_*)."""

from typing import ClassVar

from modelops_servicekit.settings import ServiceSettings


class DeployerSettings(ServiceSettings):
    """The deployer's settings: the shared sections, its database, bucket and port."""

    service: ClassVar[str] = "deployer"
    default_port: ClassVar[int] = 8103

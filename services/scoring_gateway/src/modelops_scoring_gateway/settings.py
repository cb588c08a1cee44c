"""Settings of the scoring gateway service (env MODELOPS_*)."""

from typing import ClassVar

from modelops_servicekit.settings import ServiceSettings


class ScoringGatewaySettings(ServiceSettings):
    """The scoring gateway's settings: the shared sections, its database, bucket and port."""

    service: ClassVar[str] = "scoring_gateway"
    default_port: ClassVar[int] = 8104

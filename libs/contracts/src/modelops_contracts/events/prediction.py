"""Facts about scoring and collected data (gateway and data collector)."""

from datetime import datetime
from typing import ClassVar

from pydantic import AwareDatetime, JsonValue

from modelops_contracts.events.base import Event
from modelops_contracts.types import ArtifactUri, ModelName, Version


class PredictionLogged(Event):
    """One sampled request and response through the gateway (high volume stream)."""

    subject: ClassVar[str] = "modelops.prediction.logged.v1"

    request_id: str
    endpoint_name: ModelName
    deployment_name: ModelName
    model_name: ModelName
    model_version: Version
    inputs: JsonValue
    outputs: JsonValue
    latency_ms: float
    status_code: int = 200

    def entity(self) -> str:
        return f"endpoints/{self.endpoint_name}/requests/{self.request_id}"


class CollectionWindowClosed(Event):
    """A window of collected predictions is complete and readable under data_uri."""

    subject: ClassVar[str] = "modelops.collection_window.closed.v1"

    endpoint_name: ModelName
    model_name: ModelName
    model_version: Version
    window_start: AwareDatetime
    window_end: AwareDatetime
    row_count: int
    data_uri: ArtifactUri

    def entity(self) -> str:
        start = datetime.isoformat(self.window_start)
        return f"endpoints/{self.endpoint_name}/windows/{start}"

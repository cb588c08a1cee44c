"""Facts about scoring and collected data (gateway and data collector)."""

from datetime import datetime
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

from modelops_contracts.events.base import Event
from modelops_contracts.types import ArtifactUri, ModelName, Version


class LoggedRequest(BaseModel):
    """One more sampled request carried by a PredictionLogged: same endpoint, deployment, model."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    request_id: str
    occurred_at: AwareDatetime
    """RFC 3339, or Unix seconds (the gateway's compact form; read as UTC)."""
    inputs: JsonValue
    outputs: JsonValue
    latency_ms: float
    status_code: int = 200


LoggedRow = tuple[str, float, JsonValue, JsonValue, float, int]
"""One more request, compact: (request_id, occurred_at as Unix seconds, inputs, outputs,
latency_ms, status_code)."""


class PredictionLogged(Event):
    """A sampled request and response through the gateway (high volume stream).

    The top-level fields are one request; `rows` (compact, what the gateway sends) and `more`
    (objects) carry further requests to the same deployment logged in the same message, so a
    message holds 1 + len(rows) + len(more).
    """

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
    more: list[LoggedRequest] = Field(default_factory=list)
    """Further requests to the same endpoint, deployment and model version, as objects."""
    rows: list[LoggedRow] = Field(default_factory=list)
    """Further requests to the same endpoint, deployment and model version, as LoggedRows."""

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

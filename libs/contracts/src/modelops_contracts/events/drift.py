"""Facts about monitoring: drift checks and degraded performance (drift monitor)."""

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from modelops_contracts.events.base import Event
from modelops_contracts.types import ArtifactUri, ModelName, Severity, Version


class FeatureDrift(BaseModel):
    """The verdict of one statistical test on one feature."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    feature: str
    method: str
    score: float
    threshold: float
    drifted: bool


class DriftChecked(Event):
    """A monitor run finished, drifted or not."""

    subject: ClassVar[str] = "modelops.drift.checked.v1"

    monitor_id: str
    run_id: str
    model_name: ModelName
    model_version: Version | None = None
    endpoint_name: ModelName | None = None
    dataset_drift: bool
    drift_share: float
    drifted_features: list[str] = Field(default_factory=list)
    report_uri: ArtifactUri | None = None

    def entity(self) -> str:
        return f"monitors/{self.monitor_id}/runs/{self.run_id}"


class DriftDetected(Event):
    """A monitor run found drift beyond its thresholds."""

    subject: ClassVar[str] = "modelops.drift.detected.v1"

    monitor_id: str
    run_id: str
    model_name: ModelName
    model_version: Version | None = None
    endpoint_name: ModelName | None = None
    severity: Severity = Severity.WARNING
    drift_share: float
    features: list[FeatureDrift] = Field(default_factory=list)
    report_uri: ArtifactUri | None = None

    def entity(self) -> str:
        return f"monitors/{self.monitor_id}/runs/{self.run_id}"


class PerformanceDegraded(Event):
    """A quality metric on labelled production data fell below its baseline (concept drift)."""

    subject: ClassVar[str] = "modelops.performance.degraded.v1"

    monitor_id: str
    run_id: str
    model_name: ModelName
    model_version: Version | None = None
    endpoint_name: ModelName | None = None
    severity: Severity = Severity.WARNING
    metric: str
    value: float
    baseline: float
    threshold: float
    report_uri: ArtifactUri | None = None

    def entity(self) -> str:
        return f"monitors/{self.monitor_id}/runs/{self.run_id}"

"""Monitors and runs: what a monitor watches, its thresholds, and how a run's verdict is read."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from modelops_contracts.events import DriftChecked, DriftDetected, Event, PerformanceDegraded
from modelops_contracts.events.drift import FeatureDrift
from modelops_contracts.types import ModelName, Severity, Version
from modelops_drift_monitor.drift import DriftOptions, DriftResult, FeatureOptions
from modelops_drift_monitor.schedule import valid_cron
from modelops_drift_monitor.stattests import DEFAULT_THRESHOLDS
from modelops_servicekit.model_metrics import degradation

Task = Literal["classification", "regression"]


class BaselineRef(BaseModel):
    """A registered dataset version, or a past production window of the same endpoint."""

    dataset: str | None = None
    version: str = "latest"
    window_start: datetime | None = None
    window_end: datetime | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "BaselineRef":
        if (self.dataset is None) == (self.window_start is None or self.window_end is None):
            raise ValueError("give either a dataset or a window_start and window_end")
        return self


class FeatureThreshold(BaseModel):
    """Override Evidently's default test and/or threshold for one feature."""

    test: str | None = None
    threshold: float | None = None

    @model_validator(mode="after")
    def _known(self) -> "FeatureThreshold":
        if self.test is not None and self.test not in DEFAULT_THRESHOLDS:
            raise ValueError(f"test must be one of {sorted(DEFAULT_THRESHOLDS)}")
        return self


class Thresholds(BaseModel):
    """Per-signal thresholds."""

    drift_share: float = Field(default=0.5, gt=0, le=1)
    features: dict[str, FeatureThreshold] = Field(default_factory=dict)
    null_share_increase: float = Field(default=0.1, ge=0, le=1)
    out_of_range_share: float = Field(default=0.1, ge=0, le=1)
    type_error_share: float = Field(default=0.0, ge=0, le=1)
    performance_drop: float = Field(default=0.05, ge=0)


class CreateMonitor(BaseModel):
    """A monitor on an endpoint (or one model version) against a baseline."""

    model_config = ConfigDict(protected_namespaces=())

    name: str = Field(min_length=1, max_length=200)
    model_name: ModelName
    model_version: Version | None = None
    endpoint_name: ModelName | None = None
    baseline: BaselineRef
    features: list[str] | None = None
    target_column: str | None = None
    prediction_column: str | None = "prediction"
    score_column: str | None = None
    task: Task = "classification"
    performance_metric: str = "accuracy"
    baseline_metrics: dict[str, float] = Field(default_factory=dict)
    schedule_interval_s: int | None = Field(default=None, ge=10)
    schedule_cron: str | None = Field(default=None, examples=["*/15 * * * *", "0 6 * * 1-5"])
    """Cron expression in UTC (5 fields, or 6 with seconds); exclusive with the interval."""
    on_window_closed: bool = True
    window_s: int = Field(default=3600, ge=1)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    severity: Severity = Severity.WARNING
    max_rows: int = Field(default=1_000_000, ge=100)
    seed: int = 42
    rebaseline_on_promotion: bool = False
    """When the model is promoted (`model.promoted`), the endpoint's collected data of the
    `rebaseline_window_s` before the promotion becomes the baseline: the new champion was
    trained for that data, so drift is judged against it from then on."""
    rebaseline_window_s: int | None = Field(default=None, ge=10, description="default: window_s")

    @model_validator(mode="after")
    def _rebaseline_needs_endpoint(self) -> "CreateMonitor":
        if self.rebaseline_on_promotion and self.endpoint_name is None:
            raise ValueError("rebaseline_on_promotion needs endpoint_name (its collected data)")
        return self

    @field_validator("schedule_cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else valid_cron(value)

    @model_validator(mode="after")
    def _one_schedule(self) -> "CreateMonitor":
        if self.schedule_interval_s is not None and self.schedule_cron is not None:
            raise ValueError("give schedule_interval_s or schedule_cron, not both")
        return self


def drift_options(monitor: CreateMonitor, features: list[str]) -> DriftOptions:
    """The engine's options for a monitor."""
    per = {k: FeatureOptions(v.test, v.threshold) for k, v in monitor.thresholds.features.items()}
    return DriftOptions(
        features=features,
        per_feature=per,
        drift_share=monitor.thresholds.drift_share,
        max_rows=monitor.max_rows,
        seed=monitor.seed,
    )


def watched(monitor: CreateMonitor, baseline_columns: list[str]) -> list[str]:
    """Default: every baseline column but the label (the prediction included)."""
    if monitor.features:
        cols = list(monitor.features)
        if monitor.prediction_column and monitor.prediction_column in baseline_columns:
            cols.append(
                monitor.prediction_column
            ) if monitor.prediction_column not in cols else None
        return cols
    skip = {monitor.target_column, monitor.score_column}
    return [c for c in baseline_columns if c not in skip]


def quality_breaches(monitor: CreateMonitor, result: DriftResult) -> list[str]:
    """Features whose data quality crosses a threshold."""
    t = monitor.thresholds
    out = []
    for f in result.features:
        q = f.quality
        if q is None:
            continue
        if (
            q.null_share - q.baseline_null_share > t.null_share_increase
            or q.out_of_range_share > t.out_of_range_share
            or q.type_error_share > t.type_error_share
        ):
            out.append(f.feature)
    return out


def run_events(
    monitor_id: str,
    run_id: str,
    monitor: CreateMonitor,
    result: DriftResult,
    performance: dict[str, float],
    report_uri: str,
) -> list[Event]:
    """drift.checked always; drift.detected on dataset drift; performance.degraded on a drop."""
    ids = {
        "monitor_id": monitor_id,
        "run_id": run_id,
        "model_name": monitor.model_name,
        "model_version": monitor.model_version,
        "endpoint_name": monitor.endpoint_name,
        "report_uri": report_uri,
    }
    share = result.share_drifted
    events: list[Event] = [
        DriftChecked(
            **ids,
            dataset_drift=result.dataset_drift,
            drift_share=share,
            drifted_features=result.drifted_features,
        )
    ]
    if result.dataset_drift:
        feats = [
            FeatureDrift(
                feature=f.feature, method=f.test, score=f.score, threshold=f.threshold, drifted=True
            )
            for f in result.features
            if f.drifted
        ]
        events.append(
            DriftDetected(**ids, severity=monitor.severity, drift_share=share, features=feats)
        )
    metric = monitor.performance_metric
    base = monitor.baseline_metrics.get(metric)
    if metric in performance and base is not None:
        drop = degradation(metric, performance[metric], base)
        if drop > monitor.thresholds.performance_drop:
            events.append(
                PerformanceDegraded(
                    **ids,
                    severity=monitor.severity,
                    metric=metric,
                    value=performance[metric],
                    baseline=base,
                    threshold=monitor.thresholds.performance_drop,
                )
            )
    return events


def baseline_keys(monitor_id: str, generation: int) -> tuple[str, str]:
    """(statistics, Evidently sample) object keys of a monitor's baseline generation."""
    prefix = f"monitors/{monitor_id}" + (f"/g{generation}" if generation else "")
    return f"{prefix}/baseline.npz", f"{prefix}/baseline-sample.parquet"

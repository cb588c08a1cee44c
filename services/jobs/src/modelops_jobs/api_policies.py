"""HTTP bodies of promotion policies and promotion requests."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from modelops_contracts.types import ModelName


class EvaluationData(BaseModel):
    """What challenger and champion are scored on: a held-out dataset version and/or the
    labelled holdout of an endpoint's recent production data."""

    model_config = ConfigDict(extra="forbid")

    dataset: ModelName | None = None
    dataset_version: str = "latest"
    endpoint: ModelName | None = None
    window_s: int = Field(default=86_400, ge=60, le=366 * 86_400)
    label_column: str = Field(default="label", description="the dataset's label column")
    features: list[str] | None = Field(
        default=None, description="model input order; default: the data's feature columns"
    )
    task: Literal["classification", "regression"] = "classification"

    @model_validator(mode="after")
    def _some_source(self) -> "EvaluationData":
        if self.dataset is None and self.endpoint is None:
            raise ValueError("give a dataset, an endpoint, or both")
        return self


class CriterionBody(BaseModel):
    """One metric's bar (the challenger must clear every criterion to be promoted)."""

    model_config = ConfigDict(extra="forbid")

    metric: str = Field(examples=["accuracy", "f1", "roc_auc", "rmse"])
    higher_is_better: bool | None = Field(
        default=None, description="default: true for accuracy/precision/recall/f1/roc_auc/r2"
    )
    threshold: float | None = Field(default=None, description="absolute bar for the challenger")
    min_improvement: float | None = Field(
        default=None, description="over the champion, in the metric's units (negative: a loss)"
    )
    min_relative_improvement: float | None = Field(
        default=None, description="over the champion, as a fraction of its value"
    )

    @model_validator(mode="after")
    def _some_bar(self) -> "CriterionBody":
        bars = (self.threshold, self.min_improvement, self.min_relative_improvement)
        if all(b is None for b in bars):
            raise ValueError("give a threshold, a min_improvement or a min_relative_improvement")
        return self


class ShadowPeriod(BaseModel):
    """After the offline criteria pass, the challenger is deployed next to the endpoint's live
    deployment and answers a mirrored share of its traffic (never a client) for a while; its
    predictions must agree with the live ones often enough, with few errors."""

    model_config = ConfigDict(extra="forbid")

    endpoint: ModelName = Field(description="the endpoint whose live traffic is mirrored")
    percent: int = Field(default=50, ge=1, le=50, description="share of requests mirrored")
    duration_s: float = Field(default=600.0, ge=0, description="least time mirroring")
    min_requests: int = Field(default=100, ge=1, description="least mirrored requests")
    min_agreement: float = Field(default=0.9, ge=0, le=1, description="same prediction share")
    max_error_rate: float = Field(default=0.01, ge=0, le=1)
    timeout_s: float = Field(
        default=3600.0, gt=0, description="from the start (image build included) to a verdict"
    )


class PolicyBody(BaseModel):
    """How a model's new versions are judged and promoted (PUT /v1/policies/{model_name})."""

    model_config = ConfigDict(extra="forbid")

    alias: ModelName = Field(default="champion", description="the alias promotion moves")
    evaluation: EvaluationData
    criteria: list[CriterionBody] = Field(min_length=1)
    min_rows: int = Field(default=50, ge=1, description="fewer labelled rows: rejected")
    shadow: ShadowPeriod | None = Field(default=None, description="a live shadow period")
    require_approval: bool = Field(default=False, description="a human approves passing ones")
    auto: bool = Field(default=True, description="evaluate every newly registered version")


class PromotionRequest(BaseModel):
    """Evaluate a version against the champion now (POST /v1/promotions)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_name: ModelName
    version: int = Field(ge=1)
    dry_run: bool = Field(default=False, description="compare only; store and change nothing")


class Review(BaseModel):
    """A human's approval or rejection of a promotion awaiting it."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=2000)

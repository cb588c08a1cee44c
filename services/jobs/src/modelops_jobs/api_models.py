"""HTTP bodies of the jobs API."""

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from modelops_contracts.types import Framework, ModelName, Sha256
from modelops_jobs.domain import output_path
from modelops_servicekit.errors import Invalid

ParamValue = str | int | float | bool


class JobOutput(BaseModel):
    """A model the job's script writes under MODELOPS_OUTPUT_DIR, to register when it completes."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_name: ModelName
    path: str = Field(description="file or folder, relative to the run's output folder")
    framework: Framework = Framework.CUSTOM
    auto_register: bool = True
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("path")
    @classmethod
    def _inside(cls, value: str) -> str:
        try:
            return output_path(value)
        except Invalid as exc:  # a validation error (422), like the other fields
            raise ValueError(exc.message) from exc


class Trigger(BaseModel):
    """Start a run when an event whose fields equal `filter` arrives, at most once per cool-down."""

    model_config = ConfigDict(extra="forbid")

    event: str = Field(
        description="drift.detected, performance.degraded or collection_window.closed"
    )
    filter: dict[str, str] = Field(default_factory=dict, description="e.g. {endpoint_name: churn}")
    cooldown_s: int = Field(default=3600, ge=0)


class JobInput(BaseModel):
    """Data a run finds in the folder MODELOPS_INPUT_<NAME>: a registered dataset version, or
    the collected production data of an endpoint over the last `window_s`, joined with labels
    (the rows held out for evaluating challengers are left out)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
    dataset: ModelName | None = None
    version: str = Field(default="latest", description="a dataset version number or latest")
    endpoint: ModelName | None = None
    window_s: int = Field(default=86_400, ge=60, le=366 * 86_400)
    labelled_only: bool = Field(default=True, description="collected rows with a label only")

    @model_validator(mode="after")
    def _one_source(self) -> "JobInput":
        if (self.dataset is None) == (self.endpoint is None):
            raise ValueError("give either a dataset or an endpoint")
        return self


class CreateJob(BaseModel):
    """A job definition: what to run, with which code and parameters, and what it produces."""

    model_config = ConfigDict(extra="forbid")

    name: ModelName
    command: list[str] = Field(min_length=1, description="argv; a bare `python` is the service's")
    code_sha256: Sha256 | None = Field(
        default=None, description="a tar(.gz) snapshot uploaded with PUT /v1/snapshots/{sha256}"
    )
    parameters: dict[str, ParamValue] = Field(default_factory=dict)
    param_args: bool = Field(default=False, description="also pass parameters as --name value")
    timeout_s: float = Field(default=3600.0, gt=0, le=7 * 24 * 3600)
    outputs: list[JobOutput] = Field(default_factory=list)
    inputs: list[JobInput] = Field(default_factory=list)
    description: str = ""
    triggers: list[Trigger] = Field(default_factory=list)
    schedule_cron: str | None = Field(default=None, description="cron expression, in UTC")

    @field_validator("inputs")
    @classmethod
    def _unique_inputs(cls, value: list[JobInput]) -> list[JobInput]:
        names = [i.name.lower() for i in value]
        if len(set(names)) != len(names):
            raise ValueError("input names must be unique (case-insensitive)")
        return value


class StartRun(BaseModel):
    """Start a run; parameters given here override the job's."""

    model_config = ConfigDict(extra="forbid")

    parameters: dict[str, ParamValue] = Field(default_factory=dict)


def as_strings(parameters: dict[str, ParamValue]) -> dict[str, str]:
    """Parameters as the process sees them (env values and args are strings)."""
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in parameters.items()}

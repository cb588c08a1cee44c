"""HTTP bodies of the jobs API."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from modelops_contracts.api.environments import ImageReference, PipRequirement
from modelops_contracts.types import Framework, ModelName, Sha256
from modelops_jobs.domain import output_path
from modelops_jobs.environments import CONTAINER, RESOURCES_NEED_CONTAINER
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


class JobEnvironment(BaseModel):
    """Where the command runs: a local process (the service's Python, or a virtualenv of the
    requirements) or a container of the builder's environment image with the requirements."""

    model_config = ConfigDict(extra="forbid")

    requirements: list[PipRequirement] = Field(
        default_factory=list, description="plain pip requirements, e.g. scikit-learn==1.9.1"
    )
    runtime: Literal["process", "container"] = "process"
    base_image: ImageReference | None = Field(
        default=None, description="container runs: the base to build on (the builder's default)"
    )


class Resources(BaseModel):
    """Limits of a container run."""

    model_config = ConfigDict(extra="forbid")

    cpus: float | None = Field(default=None, gt=0, le=1024)
    memory_mb: int | None = Field(default=None, ge=16)


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
    environment: JobEnvironment | None = Field(
        default=None, description="unset: a process with the service's Python"
    )
    resources: Resources | None = None

    @field_validator("inputs")
    @classmethod
    def _unique_inputs(cls, value: list[JobInput]) -> list[JobInput]:
        names = [i.name.lower() for i in value]
        if len(set(names)) != len(names):
            raise ValueError("input names must be unique (case-insensitive)")
        return value

    @model_validator(mode="after")
    def _enforceable(self) -> "CreateJob":
        """Resources and a base image mean something only in a container: never ignored."""
        if self.environment is not None and self.environment.runtime == CONTAINER:
            return self
        if self.resources is not None and self.resources.model_dump(exclude_none=True):
            raise ValueError(RESOURCES_NEED_CONTAINER)
        if self.environment is not None and self.environment.base_image is not None:
            raise ValueError(
                "base_image is for container runs; set environment.runtime to container"
            )
        return self


class StartRun(BaseModel):
    """Start a run; parameters given here override the job's."""

    model_config = ConfigDict(extra="forbid")

    parameters: dict[str, ParamValue] = Field(default_factory=dict)


def as_strings(parameters: dict[str, ParamValue]) -> dict[str, str]:
    """Parameters as the process sees them (env values and args are strings)."""
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in parameters.items()}

"""Facts about runs, promotions and batch scoring (jobs service)."""

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from modelops_contracts.events.base import Event
from modelops_contracts.events.model_version import Lineage
from modelops_contracts.types import ArtifactUri, Framework, ModelName, Version


class RunModelOutput(BaseModel):
    """A model a run produced and asks the registry to register."""

    model_config = ConfigDict(frozen=True, extra="ignore", protected_namespaces=())

    model_name: ModelName
    artifact_uri: ArtifactUri
    framework: Framework
    auto_register: bool = True
    tags: dict[str, str] = Field(default_factory=dict)


class RunStarted(Event):
    """A run left the queue and is executing."""

    subject: ClassVar[str] = "modelops.run.started.v1"

    run_id: str
    job_name: ModelName
    trigger: str = "manual"
    """`manual`, `schedule`, or the type of the event that triggered the run."""
    trigger_event_id: str | None = None
    """The id of the event that triggered the run, if an event did."""

    def entity(self) -> str:
        return f"runs/{self.run_id}"


class RunCompleted(Event):
    """A run finished successfully, with its metrics and declared outputs."""

    subject: ClassVar[str] = "modelops.run.completed.v1"

    run_id: str
    job_name: ModelName
    metrics: dict[str, float] = Field(default_factory=dict)
    outputs: list[RunModelOutput] = Field(default_factory=list)
    lineage: Lineage = Field(default_factory=Lineage)

    def entity(self) -> str:
        return f"runs/{self.run_id}"


class RunFailed(Event):
    """A run ended in failure (or was cancelled); log_tail says why."""

    subject: ClassVar[str] = "modelops.run.failed.v1"

    run_id: str
    job_name: ModelName
    reason: str
    log_tail: str = ""
    cancelled: bool = False

    def entity(self) -> str:
        return f"runs/{self.run_id}"


class ModelPromoted(Event):
    """A challenger passed its promotion policy; the alias now points at it."""

    subject: ClassVar[str] = "modelops.model.promoted.v1"

    model_name: ModelName
    alias: ModelName
    version: Version
    previous_version: Version | None = None
    decision_id: str

    def entity(self) -> str:
        return f"models/{self.model_name}/aliases/{self.alias}"


class BatchCompleted(Event):
    """A batch scoring job wrote its predictions."""

    subject: ClassVar[str] = "modelops.batch.completed.v1"

    run_id: str
    model_name: ModelName
    version: Version
    input_uri: ArtifactUri
    output_uri: ArtifactUri
    rows: int

    def entity(self) -> str:
        return f"runs/{self.run_id}"

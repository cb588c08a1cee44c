"""Facts about endpoints, deployments and rollouts (published by the deployer)."""

from typing import ClassVar

from pydantic import Field

from modelops_contracts.events.base import Event
from modelops_contracts.types import DeploymentState, ModelName, Version


class DeploymentStateChanged(Event):
    """A deployment moved to a new state; carries what the gateway needs to route to it."""

    subject: ClassVar[str] = "modelops.deployment.state_changed.v1"

    deployment_name: ModelName
    endpoint_name: ModelName
    model_name: ModelName
    version: Version
    state: DeploymentState
    previous_state: DeploymentState | None = None
    reason: str = ""
    image: str | None = None
    upstreams: list[str] = Field(default_factory=list)
    """Base URLs of the healthy replicas, e.g. http://127.0.0.1:31001."""
    max_concurrency: int = 1
    request_timeout_s: float = 60.0
    generation: int = 0
    """Monotonic per deployment: consumers drop facts older than what they hold."""
    max_queue_wait_s: float = 0.5
    """How long a request may wait for a free slot before the gateway answers 429."""
    data_collection: bool = False
    """Whether the gateway logs sampled requests of this deployment as PredictionLogged."""
    sample_rate: float = 1.0
    """The share of requests logged when data collection is on (0..1)."""

    def entity(self) -> str:
        return f"endpoints/{self.endpoint_name}/deployments/{self.deployment_name}"


class EndpointUpdated(Event):
    """An endpoint's traffic, mirror split, auth mode or keys changed."""

    subject: ClassVar[str] = "modelops.endpoint.updated.v1"

    endpoint_name: ModelName
    traffic: dict[str, int] = Field(default_factory=dict)
    mirror: dict[str, int] = Field(default_factory=dict)
    auth_mode: str = "key"
    keys_revision: int = 0
    """Bumped when a key is regenerated: the gateway refetches key hashes from the deployer."""
    deleted: bool = False
    generation: int = 0

    def entity(self) -> str:
        return f"endpoints/{self.endpoint_name}"


class RolloutStepTaken(Event):
    """A progressive rollout advanced to its next traffic step."""

    subject: ClassVar[str] = "modelops.rollout.step_taken.v1"

    rollout_id: str
    endpoint_name: ModelName
    from_deployment: ModelName | None = None
    to_deployment: ModelName
    step: int
    traffic: dict[str, int] = Field(default_factory=dict)

    def entity(self) -> str:
        return f"endpoints/{self.endpoint_name}/rollouts/{self.rollout_id}"


class RolloutRolledBack(Event):
    """A guard metric breached during a rollout; traffic went back to the previous deployment."""

    subject: ClassVar[str] = "modelops.rollout.rolled_back.v1"

    rollout_id: str
    endpoint_name: ModelName
    to_deployment: ModelName
    reason: str
    metric: str | None = None
    observed: float | None = None
    threshold: float | None = None
    traffic: dict[str, int] = Field(default_factory=dict)

    def entity(self) -> str:
        return f"endpoints/{self.endpoint_name}/rollouts/{self.rollout_id}"

"""The event catalog: every lifecycle fact, declared once and used by publisher and consumer."""

from modelops_contracts.events.base import SUBJECT_PATTERN, CloudEvent, Event
from modelops_contracts.events.build import ImageBuildFailed, ImageBuilt, ModelVersionProfiled
from modelops_contracts.events.deployment import (
    DeploymentStateChanged,
    EndpointUpdated,
    RolloutRolledBack,
    RolloutStepTaken,
)
from modelops_contracts.events.drift import (
    DriftChecked,
    DriftDetected,
    FeatureDrift,
    PerformanceDegraded,
)
from modelops_contracts.events.jobs import (
    BatchCompleted,
    ModelPromoted,
    RunCompleted,
    RunFailed,
    RunModelOutput,
    RunStarted,
)
from modelops_contracts.events.model_version import (
    DatasetVersionRegistered,
    Lineage,
    ModelAliasSet,
    ModelVersionDeleted,
    ModelVersionRegistered,
    ModelVersionUpdated,
)
from modelops_contracts.events.platform import MessageDeadLettered
from modelops_contracts.events.prediction import (
    CollectionWindowClosed,
    LoggedRequest,
    LoggedRow,
    PredictionLogged,
)

ALL_EVENTS: tuple[type[Event], ...] = (
    ModelVersionRegistered,
    ModelVersionUpdated,
    ModelVersionDeleted,
    ModelAliasSet,
    DatasetVersionRegistered,
    ImageBuilt,
    ImageBuildFailed,
    ModelVersionProfiled,
    DeploymentStateChanged,
    EndpointUpdated,
    RolloutStepTaken,
    RolloutRolledBack,
    PredictionLogged,
    CollectionWindowClosed,
    DriftChecked,
    DriftDetected,
    PerformanceDegraded,
    RunStarted,
    RunCompleted,
    RunFailed,
    ModelPromoted,
    BatchCompleted,
    MessageDeadLettered,
)

CATALOG: dict[str, type[Event]] = {cls.subject: cls for cls in ALL_EVENTS}
"""Every event class by its subject, for consumers that parse by subject."""

__all__ = [
    "ALL_EVENTS",
    "CATALOG",
    "SUBJECT_PATTERN",
    "BatchCompleted",
    "CloudEvent",
    "CollectionWindowClosed",
    "DatasetVersionRegistered",
    "DeploymentStateChanged",
    "DriftChecked",
    "DriftDetected",
    "EndpointUpdated",
    "Event",
    "FeatureDrift",
    "ImageBuildFailed",
    "ImageBuilt",
    "Lineage",
    "LoggedRequest",
    "LoggedRow",
    "MessageDeadLettered",
    "ModelAliasSet",
    "ModelPromoted",
    "ModelVersionDeleted",
    "ModelVersionProfiled",
    "ModelVersionRegistered",
    "ModelVersionUpdated",
    "PerformanceDegraded",
    "PredictionLogged",
    "RolloutRolledBack",
    "RolloutStepTaken",
    "RunCompleted",
    "RunFailed",
    "RunModelOutput",
    "RunStarted",
]

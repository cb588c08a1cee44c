"""Shared constrained types and enumerations used in events and HTTP bodies."""

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,126}[a-z0-9]$|^[a-z0-9]$"

ModelName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
"""A model, dataset, endpoint or deployment name: lower-case, digits, `_.-`, at most 128 chars."""

ArtifactUri = Annotated[
    str, StringConstraints(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.*$")
]
"""A reference to an object or a prefix in the object store: s3://bucket/key."""

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
"""A lower-case hex SHA-256 digest."""

Blake3 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
"""A lower-case hex BLAKE3 digest (32 bytes, what `b3sum` prints)."""

Version = Annotated[int, Field(ge=1)]
"""A version number: 1, 2, 3, ... contiguous per name."""


class Framework(StrEnum):
    """The framework a model was produced with."""

    ONNX = "onnx"
    SKLEARN = "sklearn"
    XGBOOST = "xgboost"
    LIGHTGBM = "lightgbm"
    PYTORCH = "pytorch"
    CUSTOM = "custom"


class DeploymentState(StrEnum):
    """Deployment states, exactly Azure ML's online deployment states."""

    TRANSITIONING = "Transitioning"
    HEALTHY = "Healthy"
    UNHEALTHY = "Unhealthy"
    UNSCHEDULABLE = "Unschedulable"
    FAILED = "Failed"
    DELETED = "Deleted"


class RunState(StrEnum):
    """States of a job run."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Severity(StrEnum):
    """Alert severity of a monitor signal."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

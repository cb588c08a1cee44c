"""The base class of every event and the CloudEvents 1.0 envelope used outside the bus."""

import re
from datetime import UTC, datetime
from typing import ClassVar
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

SUBJECT_PATTERN = re.compile(r"^modelops\.[a-z][a-z_]*\.[a-z][a-z_]*\.v[1-9][0-9]*$")
SUBJECT_PREFIX = "modelops."


class Event(BaseModel):
    """A fact that has happened. Frozen; within a major version, changes are additive only."""

    model_config = ConfigDict(frozen=True, extra="ignore", protected_namespaces=())
    subject: ClassVar[str]

    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    correlation_id: str | None = None

    @classmethod
    def event_type(cls) -> str:
        """The CloudEvents `type`: the subject without the `modelops.` prefix."""
        return cls.subject.removeprefix(SUBJECT_PREFIX)

    def entity(self) -> str:
        """The CloudEvents `subject`: the id of the entity this fact is about."""
        return ""


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 structured-mode JSON envelope."""

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: str = "1.0"
    id: str
    source: str
    type: str
    subject: str | None = None
    time: AwareDatetime
    datacontenttype: str = "application/json"
    data: dict[str, JsonValue]

    @classmethod
    def wrap(cls, event: Event, source: str) -> "CloudEvent":
        """Wrap an event for the outside world (webhooks, the audit log)."""
        data = event.model_dump(mode="json", exclude={"event_id", "occurred_at"})
        return cls(
            id=str(event.event_id),
            source=source,
            type=event.event_type(),
            subject=event.entity() or None,
            time=event.occurred_at,
            data=data,
        )

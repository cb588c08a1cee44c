"""HTTP bodies of the notifier's API."""

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

T = TypeVar("T")
ReplayStatus = Literal["delivered", "dead_letter"]
DEAD_LETTER: ReplayStatus = "dead_letter"
RESERVED = {"content-type", "content-length", "host", "user-agent"}


def _check_headers(headers: dict[str, str]) -> dict[str, str]:
    for name in headers:
        lowered = name.lower()
        if lowered in RESERVED or lowered.startswith("webhook-"):
            raise ValueError(f"header {name!r} is set by the notifier")
    return headers


class SubscriptionFields(BaseModel):
    """Fields shared by create and update."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    event_types: list[str] | None = None
    """Exact types (`model_version.registered`), wildcards (`model_version.*`) or `*`."""
    subjects: list[str] | None = None
    """Entity prefixes or globs: `models/churn`, `endpoints/fraud`, `models/*/versions/1`."""
    headers: dict[str, str] | None = None
    description: str | None = None
    paused: bool | None = None
    allow_insecure: bool | None = None
    """Allow an http:// target (local use only)."""

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return None if value is None else _check_headers(value)


class CreateSubscription(SubscriptionFields):
    url: str
    event_types: list[str] = Field(default_factory=lambda: ["*"])
    subjects: list[str] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict)
    description: str = ""
    paused: bool = False
    allow_insecure: bool = False


class UpdateSubscription(SubscriptionFields):
    disabled: bool | None = None
    """Set false to re-enable a subscription disabled by a 410."""


class Subscription(BaseModel):
    id: str
    url: str
    event_types: list[str]
    subjects: list[str]
    headers: dict[str, str]
    description: str
    paused: bool
    disabled: bool
    disabled_reason: str | None
    allow_insecure: bool
    secret_hint: str
    """The first characters of the current secret (the full secret is shown once)."""
    created_at: datetime
    updated_at: datetime
    created_by: str

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "Subscription":
        secrets = doc.get("secrets") or [{"secret": ""}]
        return cls(
            id=doc["_id"],
            secret_hint=secrets[0]["secret"][:10] + "...",
            **{k: doc.get(k) for k in cls.model_fields if k not in ("id", "secret_hint")},
        )


class SubscriptionWithSecret(Subscription):
    secret: str
    """`whsec_...`: shown only in this response; store it to verify signatures."""


class RotateSecret(BaseModel):
    overlap_s: float | None = Field(default=None, ge=0)
    """How long the previous secret keeps signing (default: the service setting)."""


class ReplaySince(BaseModel):
    since: datetime
    statuses: list[ReplayStatus] = Field(default_factory=lambda: [DEAD_LETTER])


class Attempt(BaseModel):
    at: datetime
    status_code: int | None
    latency_ms: float
    response: str
    error: str | None
    outcome: str


class Delivery(BaseModel):
    id: str
    subscription_id: str
    kind: str
    event_id: str
    event_type: str
    entity: str
    status: str
    created_at: datetime
    next_attempt_at: datetime | None
    completed_at: datetime | None = None
    attempt_count: int
    series: int
    last_status_code: int | None = None
    last_error: str | None = None
    dead_letter_reason: str | None = None
    attempts: list[Attempt]

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "Delivery":
        fields = {k: doc.get(k) for k in cls.model_fields if k != "id"}
        return cls(id=doc["_id"], **fields)


class SlackChannel(BaseModel):
    kind: Literal["slack"]
    url: str
    """A Slack-compatible incoming-webhook URL (receives `{"text": ...}`)."""


class EmailChannel(BaseModel):
    kind: Literal["email"]
    to: list[str] = Field(min_length=1)


class CreateAlert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    event_types: list[str] = Field(min_length=1)
    subjects: list[str] = Field(default_factory=list)
    where: dict[str, str] = Field(default_factory=dict)
    """Equality on event fields, e.g. {"state": "Failed"} for failed deployments."""
    channel: Annotated[SlackChannel | EmailChannel, Field(discriminator="kind")]
    cooldown_s: float | None = Field(default=None, ge=0)
    """Quiet period per (rule, entity) after an alert (default: the service setting)."""
    paused: bool = False
    allow_insecure: bool = False


class Alert(BaseModel):
    id: str
    name: str
    event_types: list[str]
    subjects: list[str]
    where: dict[str, str] = Field(default_factory=dict)
    channel: dict[str, Any]
    cooldown_s: float
    paused: bool
    created_at: datetime
    created_by: str

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "Alert":
        fields = {k: doc[k] for k in cls.model_fields if k != "id" and k in doc}
        return cls(id=doc["_id"], **fields)


class Items(BaseModel, Generic[T]):
    items: list[T]

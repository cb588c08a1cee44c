"""Settings of the notifier service (env MODELOPS_*)."""

from typing import ClassVar

from pydantic import BaseModel, Field, SecretStr

from modelops_servicekit.settings import ServiceSettings

DEFAULT_SCHEDULE_S = [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 50400.0, 72000.0, 86400.0]


class DeliverySettings(BaseModel):
    """How webhooks are sent, retried and guarded."""

    retry_schedule_s: list[float] = Field(default_factory=lambda: list(DEFAULT_SCHEDULE_S))
    """Delay before each retry (the first attempt is immediate); attempts = 1 + len(schedule)."""
    jitter: float = Field(default=0.2, ge=0, le=1)
    """Each delay is multiplied by a random factor in [1 - jitter, 1 + jitter]."""
    max_retry_after_s: float = Field(default=86400.0, gt=0)
    """Upper bound on a target's Retry-After that we honour."""
    timeout_s: float = Field(default=15.0, gt=0)
    """Total time one attempt may take (read, write, pool wait)."""
    connect_timeout_s: float = Field(default=5.0, gt=0)
    """Time to establish a connection; short, so a dead target fails fast."""
    per_target_concurrency: int = Field(default=8, ge=1)
    """Attempts in flight per subscription (its own keep-alive pool of this size)."""
    intake_workers: int = Field(default=64, ge=1)
    """Events handled concurrently by the consumer (they share each group commit).

    Fetched one at a time: a batched fetch waits for a full batch when the bus is quiet."""
    max_in_flight: int = Field(default=2000, ge=1)
    """Stored deliveries claimed into memory at most, over all targets."""
    hold_s: float = Field(default=3.0, gt=0)
    """An event is acked once its deliveries settled, or after this long at most: the ones
    still in flight then are stored as pending (leased to this process) first."""
    slow_after_s: float = Field(default=0.5, gt=0)
    """A target with an attempt in flight this long is slow: events stop waiting for it (its
    deliveries are stored as pending), so it never holds back the others' acks."""
    sweep_interval_s: float = Field(default=0.05, gt=0)
    """How often uncommitted events are checked for `hold_s` and slow targets."""
    lease_s: float = Field(default=60.0, gt=0)
    """A claimed delivery is retried by any replica once its lease expires (longer than timeout)."""
    poll_interval_s: float = Field(default=5.0, gt=0)
    """How often due retries and expired leases are looked for.

    Each look scans the work queue on FerretDB, competing with intake for its one writer; this
    process's own retries wake the poll at their due time, so only other replicas' expired
    leases (after `lease_s`) and their retries wait for it."""
    flush_interval_s: float = Field(default=0.02, gt=0)
    """Completed deliveries are written in batches at least this often."""
    paused_recheck_s: float = Field(default=30.0, gt=0)
    """A delivery of a paused subscription waits this long before it is looked at again."""
    subscriptions_refresh_s: float = Field(default=1.0, gt=0)
    """Subscriptions and alert rules are re-read this often (other replicas' changes)."""
    response_snippet_chars: int = Field(default=512, ge=0)
    """How much of each response body is kept with the attempt."""
    allow_private: list[str] = Field(default_factory=list)
    """CIDRs or host names that may be targeted although private/loopback (local dev, tests)."""
    secret_overlap_s: float = Field(default=86400.0, ge=0)
    """After a rotation, the previous secret keeps signing this long by default."""


class SmtpSettings(BaseModel):
    """The SMTP server that sends alert e-mails."""

    host: str = "127.0.0.1"
    """SMTP host."""
    port: int = 25
    """SMTP port."""
    sender: str = "modelops@localhost"
    """The From address."""
    username: str = ""
    """Login user; empty for no authentication."""
    password: SecretStr = SecretStr("")
    """Login password."""
    starttls: bool = False
    """Upgrade the connection with STARTTLS."""
    use_tls: bool = False
    """Connect with implicit TLS (SMTPS)."""
    timeout_s: float = Field(default=15.0, gt=0)
    """Time one e-mail may take to send."""


class NotifierSettings(ServiceSettings):
    """The notifier's settings: the shared sections, its database, bucket and port."""

    service: ClassVar[str] = "notifier"
    default_port: ClassVar[int] = 8107

    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    alert_cooldown_s: float = Field(default=900.0, ge=0)
    """Default quiet period per (alert rule, entity) after an alert was sent."""

"""Settings shared by every service: one nested section per infrastructure client."""

from typing import ClassVar, Self

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class NatsSettings(BaseModel):
    """How to reach NATS JetStream and how consumers behave."""

    url: str = "nats://127.0.0.1:14222"
    """NATS server URL."""
    namespace: str = ""
    """Prefix for subjects and stream names; empty in production, unique per test for isolation."""
    max_deliver: int = Field(default=5, ge=1)
    """Delivery attempts before a message is dead-lettered."""
    ack_wait_s: float = Field(default=60.0, gt=0)
    """Seconds a consumer may work on a message before JetStream redelivers it."""
    retry_delay_s: float = Field(default=1.0, ge=0)
    """Base delay before a failed message is redelivered (doubled per attempt)."""
    events_duplicate_window_s: float = Field(default=2 * 3600, gt=0)
    """JetStream de-duplication window on Nats-Msg-Id for lifecycle events."""
    predictions_max_age_s: float = Field(default=7 * 24 * 3600, gt=0)
    """How long predictions stay in their stream (limits-based retention)."""
    predictions_max_bytes: int = Field(default=2 * 1024**3, gt=0)
    """Size limit of the predictions stream."""


class MongoSettings(BaseModel):
    """How to reach the MongoDB-wire server (FerretDB locally, MongoDB in compose)."""

    url: str = "mongodb://127.0.0.1:27117"
    """MongoDB connection string."""
    database: str = ""
    """The service's own database; defaults to the service's name."""


class ObjectStoreSettings(BaseModel):
    """How to reach the S3-compatible object store (MinIO)."""

    endpoint: str = "127.0.0.1:19000"
    """host:port of the S3 API."""
    access_key: SecretStr = SecretStr("modelops")
    """Access key id."""
    secret_key: SecretStr = SecretStr("modelops-secret")
    """Secret access key."""
    secure: bool = False
    """Use HTTPS."""
    bucket: str = ""
    """The service's own bucket; defaults to the service's name in kebab-case."""
    region: str = "us-east-1"
    """The store's region (signatures are scoped to it)."""
    public_url: str = ""
    """Base URL clients reach the store by, for download links (e.g. http://localhost:9000);
    empty means the same address as `endpoint`."""


class LogSettings(BaseModel):
    """How the service logs."""

    level: str = "INFO"
    """Minimum level: DEBUG, INFO, WARNING, ERROR."""
    json_logs: bool | None = None
    """JSON lines when true, pretty console when false, JSON unless stderr is a TTY when unset."""


class HttpSettings(BaseModel):
    """Where the service's HTTP API listens."""

    host: str = "127.0.0.1"
    """Bind address."""
    port: int = 0
    """Bind port; defaults to the service's own port."""


class DockerSettings(BaseModel):
    """How a service reaches the Docker engine (env `MODELOPS_DOCKER__HOST`)."""

    host: str = "unix:///var/run/docker.sock"
    """Docker engine URL."""


class ServiceSettings(BaseSettings):
    """The base of every service's settings: env prefix MODELOPS_, nested with __."""

    model_config = SettingsConfigDict(
        env_prefix="MODELOPS_", env_nested_delimiter="__", extra="ignore"
    )

    service: ClassVar[str] = "modelops"
    default_port: ClassVar[int] = 8000

    nats: NatsSettings = Field(default_factory=NatsSettings)
    mongo: MongoSettings = Field(default_factory=MongoSettings)
    objects: ObjectStoreSettings = Field(default_factory=ObjectStoreSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)

    @model_validator(mode="after")
    def _service_defaults(self) -> Self:
        """Unset database, bucket and port fall back to the service's own."""
        self.mongo.database = self.mongo.database or self.service
        self.objects.bucket = self.objects.bucket or self.service.replace("_", "-")
        self.http.port = self.http.port or self.default_port
        return self

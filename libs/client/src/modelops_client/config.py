"""Where the SDK and CLI find each service: `MODELOPS_<SERVICE>_URL`, defaulting to local ports."""

from pydantic_settings import BaseSettings, SettingsConfigDict

from modelops_client.local import SERVICES


def _local(service: str) -> str:
    return f"http://127.0.0.1:{SERVICES[service]}"


class ClientSettings(BaseSettings):
    """Service URLs and the caller's identity, from the environment."""

    model_config = SettingsConfigDict(env_prefix="MODELOPS_", extra="ignore")

    registry_url: str = _local("registry")
    builder_url: str = _local("builder")
    deployer_url: str = _local("deployer")
    gateway_url: str = _local("scoring_gateway")
    collector_url: str = _local("data_collector")
    monitor_url: str = _local("drift_monitor")
    notifier_url: str = _local("notifier")
    jobs_url: str = _local("jobs")
    user: str = "local-user"
    """Recorded as created_by/set_by on your changes (sent as the `modelops-user` header)."""
    timeout_s: float = 60.0

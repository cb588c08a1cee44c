"""Settings of the deployer service (env MODELOPS_*)."""

from typing import ClassVar

from pydantic import Field

from modelops_servicekit.settings import ServiceSettings


class DeployerSettings(ServiceSettings):
    """The deployer's settings: the shared sections, its peers' URLs and the controller's pace."""

    service: ClassVar[str] = "deployer"
    default_port: ClassVar[int] = 8103

    registry_url: str = "http://127.0.0.1:8101"
    """The registry's HTTP API: resolves `name@alias` and `latest` at deploy time."""
    gateway_url: str = "http://127.0.0.1:8104"
    """The scoring gateway: public endpoint URLs, and the metrics rollout guards read."""
    reconcile_interval_s: float = Field(default=1.0, gt=0)
    """How often the controller compares desired and actual state (also woken by changes)."""
    startup_timeout_s: float = Field(default=60.0, gt=0)
    """A replica not ready by then is replaced; repeated, the deployment fails."""
    max_restarts: int = Field(default=3, ge=0)
    """Restarts within `restart_window_s` beyond which a deployment is Failed (a restart loop)."""
    restart_window_s: float = Field(default=300.0, gt=0)
    """The window in which restarts are counted."""
    drain_s: float = Field(default=3.0, ge=0)
    """After traffic moves off old replicas, how long they keep answering before they stop."""
    state_dir: str = ".state/deployer"
    """Where process replicas keep their logs, and `models/` the versions that following
    endpoints downloaded from the registry for the process target."""
    host_cpus: float = Field(default=0.0, ge=0)
    """CPUs schedulable for process replicas; 0 = this machine's count."""
    host_memory_mb: int = Field(default=0, ge=0)
    """Memory schedulable for process replicas; 0 = this machine's total."""
    autoscale_up_cooldown_s: float = Field(default=5.0, ge=0)
    """Least time between two scale-ups of one deployment."""
    autoscale_down_cooldown_s: float = Field(default=60.0, ge=0)
    """Least time after a scaling before a scale-down (one replica at a time)."""
    kubernetes_namespace: str = "modelops"
    """Namespace of generated Kubernetes manifests."""

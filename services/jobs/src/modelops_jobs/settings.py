"""Settings of the jobs service (env MODELOPS_*)."""

import tempfile
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from modelops_servicekit.settings import DockerSettings, ServiceSettings


class JobsSettings(ServiceSettings):
    """The jobs's settings: the shared sections, its database, bucket and port."""

    service: ClassVar[str] = "jobs"
    default_port: ClassVar[int] = 8108

    runs_dir: Path = Path(tempfile.gettempdir()) / "modelops-runs"
    """Where each run gets its fresh folder (code, outputs, metrics file, log); removed after."""
    max_concurrent_runs: int = Field(default=2, ge=1)
    """Runs executing at once in this process; more wait, queued."""
    heartbeat_s: float = Field(default=5.0, gt=0)
    """How often this process marks the runs it holds as alive (and sweeps orphans)."""
    stale_after_s: float = Field(default=30.0, gt=0)
    """A queued or running run without a heartbeat for this long lost its process: it fails."""
    kill_grace_s: float = Field(default=5.0, gt=0)
    """After SIGTERM (timeout, cancel, shutdown), how long a run may take before SIGKILL."""
    log_tail_chars: int = Field(default=4000, ge=0)
    """How much of the log end a `run.failed` event carries."""
    inherit_env: list[str] = Field(default_factory=lambda: ["PATH", "HOME", "LANG", "TMPDIR"])
    """The only variables of the service's environment a run sees (no service secrets)."""
    schedule_check_s: float = Field(default=10.0, gt=0)
    """How often job cron schedules are checked for being due."""
    max_snapshot_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    """The largest code snapshot accepted."""
    registry_url: str = "http://127.0.0.1:8101"
    """Base URL of the registry's HTTP API (dataset and model versions, aliases)."""
    collector_url: str = "http://127.0.0.1:8105"
    """Base URL of the data collector's HTTP API (collected production data with labels)."""
    holdout_fraction: float = Field(default=0.3, ge=0, lt=1)
    """Share of collected production rows (by a hash of the request id) kept for evaluating
    challengers: never given to a training run, the only collected rows a policy scores on."""
    evaluation_dir: Path = Path(tempfile.gettempdir()) / "modelops-evaluations"
    """Where a promotion's models and data are downloaded while they are scored; removed after."""
    deployer_url: str = "http://127.0.0.1:8103"
    """Base URL of the deployer's HTTP API (shadow deployments of a policy's shadow period)."""
    shadow_check_s: float = Field(default=5.0, gt=0)
    """How often promotions in their shadow period are checked."""
    envs_dir: Path = Path(tempfile.gettempdir()) / "modelops-envs"
    """Where process runs' virtualenvs are kept, one per environment digest, reused by later
    runs (a folder per build, published under the digest once pip succeeded)."""
    env_setup_timeout_s: float = Field(default=1800.0, gt=0)
    """How long a run's environment may take to set up (pip install, the image build)."""
    builder_url: str = "http://127.0.0.1:8102"
    """Base URL of the builder's HTTP API (environment images of container runs)."""
    docker: DockerSettings = Field(default_factory=DockerSettings)
    """How to reach the Docker engine that container runs use."""
    container_network_mode: str = "host"
    """network_mode of run containers ("host": the local engine runs without bridges)."""

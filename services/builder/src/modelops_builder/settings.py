"""Settings of the builder service (env MODELOPS_*)."""

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from modelops_servicekit.settings import DockerSettings as EngineSettings
from modelops_servicekit.settings import ServiceSettings


class DockerSettings(EngineSettings):
    """How the builder reaches the Docker engine (`host`) and what it builds from."""

    base_image: str = "modelops/python-base:bookworm"
    """Default base image: Debian + python3.11 + python3-venv (set your registry's for teams)."""
    push_registry: str = ""
    """If set (host[:port]/prefix), built images are tagged and pushed there."""
    build_timeout_s: float = Field(default=900.0, gt=0)
    """A build still running after this fails with `image.build_failed` (never hangs)."""
    platform_tags: list[str] = Field(
        default_factory=lambda: ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "linux_x86_64"]
    )
    """Wheel platforms `pip download` fetches for the image (Debian bookworm, x86_64)."""


class BuilderSettings(ServiceSettings):
    """The builder's settings: the shared sections, its database, bucket and port."""

    service: ClassVar[str] = "builder"
    default_port: ClassVar[int] = 8102

    docker: DockerSettings = Field(default_factory=DockerSettings)
    registry_url: str = "http://127.0.0.1:8101"
    """The registry's HTTP API (the only way the builder learns about model versions)."""
    work_dir: Path = Path.home() / ".cache" / "modelops" / "builder"
    """Where build contexts are assembled and downloaded wheels are cached (per environment)."""
    pip_index_url: str = ""
    """Index for `pip download` on the host; empty = pip's default."""
    auto_build: list[str] = Field(default_factory=list)
    """Model names built on `model_version.registered` unasked (also: PUT auto-build)."""

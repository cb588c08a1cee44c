"""Part of the composition root: the runtimes where run commands execute, built once."""

import os
import platform

from modelops_jobs.builder_images import BuilderImages
from modelops_jobs.containers import ContainerRuntime
from modelops_jobs.docker_containers import DockerContainers
from modelops_jobs.environments import CONTAINER, PROCESS, Runtime
from modelops_jobs.execution import ExecutionConfig
from modelops_jobs.settings import JobsSettings
from modelops_jobs.venvs import ProcessRuntime, Venvs

PIP_ENV = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
"""Besides PIP_*, what pip may need of the service's environment to reach an index."""


def run_runtimes(settings: JobsSettings, config: ExecutionConfig) -> dict[str, Runtime]:
    """Where commands run: local processes (virtualenvs built with the service's Python and its
    pip configuration) and containers (the builder's environment images, on the engine)."""
    setup_env = {**config.base_env, **{k: v for k, v in os.environ.items() if k in PIP_ENV}}
    setup_env |= {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
    venvs = Venvs(
        settings.envs_dir, config.python, platform.python_version(), setup_env,
        timeout_s=settings.env_setup_timeout_s, grace_s=settings.kill_grace_s,
    )  # fmt: skip
    containers = ContainerRuntime(
        BuilderImages(settings.builder_url, settings.env_setup_timeout_s),
        DockerContainers(settings.docker.host),
        network_mode=settings.container_network_mode,
        scope=settings.mongo.database,
    )
    return {PROCESS: ProcessRuntime(venvs, config.base_env), CONTAINER: containers}

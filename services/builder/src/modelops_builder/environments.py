"""Environment images `modelops/env:<digest>`: a venv at /opt/venv with the model server and the
requirements, built once per digest from wheels fetched on the host. Packages build on them;
`POST /v1/environments` builds one on its own (the jobs' container runs)."""

import asyncio
import json

import structlog

from modelops_builder import context, domain
from modelops_builder.domain import Environment, PackageError
from modelops_builder.engine import Log
from modelops_builder.logs import LiveLog
from modelops_builder.ports import Engine
from modelops_builder.settings import BuilderSettings
from modelops_builder.wheel import build_server_wheel, server_requirements
from modelops_servicekit.errors import Invalid

log = structlog.get_logger(__name__)


def failure_reason(exc: BaseException, timeout_s: float) -> str:
    """Why a build failed, in one line."""
    if isinstance(exc, TimeoutError):
        return f"build exceeded its {timeout_s:g} s timeout"
    return str(exc) or type(exc).__name__


class Environments:
    """Builds (or reuses) environment images; one build per digest at a time."""

    def __init__(self, settings: BuilderSettings, engine: Engine) -> None:
        self.settings, self.engine = settings, engine
        wheel_dir = settings.work_dir / "server-wheel"
        self.server_wheel, self.server_wheel_sha = build_server_wheel(wheel_dir)
        self._locks: dict[str, asyncio.Lock] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def describe(
        self, python_version: str, requirements: list[str], base_image: str | None
    ) -> tuple[Environment, str]:
        """The environment asked for and its base image; Invalid if it cannot be built."""
        try:
            env = Environment(python_version, tuple(requirements))
        except PackageError as exc:
            raise Invalid(str(exc)) from exc
        return env, base_image or self.settings.docker.base_image

    async def ensure(self, env: Environment, base_image: str, log_line: Log) -> tuple[str, str]:
        """The environment's image, built unless the engine has it: (tag, env digest)."""
        env_digest = env.digest(self.server_wheel_sha, base_image)
        env_tag = domain.env_image_tag(env_digest)
        async with self._locks.setdefault(env_digest, asyncio.Lock()):
            if await asyncio.to_thread(self.engine.image, env_tag) is not None:
                log_line(f"environment: reusing {env_tag}")
                return env_tag, env_digest
            log_line(f"environment: building {env_tag}")
            await self._build(env, base_image, env_digest, env_tag, log_line)
        return env_tag, env_digest

    async def _build(
        self, env: Environment, base_image: str, env_digest: str, env_tag: str, log_line: Log
    ) -> None:
        wheels = self.settings.work_dir / "wheels" / env_digest
        timeout = self.settings.docker.build_timeout_s
        await asyncio.to_thread(
            context.pip_download,
            env,
            self.server_wheel,
            server_requirements(),
            wheels,
            self.settings.docker.platform_tags,
            self.settings.pip_index_url,
            log_line,
            timeout,
        )
        files = context.folder_files(wheels, "wheels")
        files["Dockerfile"] = domain.env_dockerfile(base_image).encode()
        tar = await asyncio.to_thread(context.tar_context, files)
        labels = {"org.modelops.env-digest": env_digest}
        await asyncio.to_thread(self.engine.build, tar, env_tag, log_line, timeout, labels)

    def start(self, env: Environment, base_image: str) -> LiveLog:
        """Build (or reuse) in the background; the log's last line is the JSON result."""
        live = LiveLog(asyncio.get_running_loop())
        task = asyncio.create_task(self._run(env, base_image, live))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return live

    async def _run(self, env: Environment, base_image: str, live: LiveLog) -> None:
        timeout = self.settings.docker.build_timeout_s
        try:
            tag, digest = await asyncio.wait_for(self.ensure(env, base_image, live.append), timeout)
        except Exception as exc:  # a download, the engine or the deadline: the caller is told
            reason = failure_reason(exc, timeout)
            log.warning("environment_build_failed", reason=reason)
            live.append(json.dumps({"error": reason}))
        else:
            live.append(json.dumps({"image": tag, "env_digest": digest}))
        finally:
            live.close()

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

"""The server's settings: environment variables `MODELOPS_MODELSERVER_<FIELD>`, or CLI flags."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

ENV_PREFIX = "MODELOPS_MODELSERVER_"


@dataclass(frozen=True)
class ServerSettings:
    """How the model server runs. Every field is also an env var, e.g. MODELOPS_MODELSERVER_PORT."""

    model_dir: str = "/model"
    """Folder with the model file(s) and modelserver.json."""
    host: str = "0.0.0.0"
    """Bind address."""
    port: int = 5001
    """Bind port (Azure's inference server default)."""
    workers: int = 1
    """Worker processes; each loads the model and serves on the same port."""
    max_concurrency: int = 4
    """Model calls running at once per worker (thread execution); the rest wait their turn."""
    max_pending: int = 256
    """Scoring requests held per worker (running + waiting); beyond it the server answers 429."""
    request_timeout_s: float = 60.0
    """A scoring request that has not finished by then answers 504 (thread execution)."""
    execution: str = "auto"
    """Where the model runs: `inline` (event loop thread), `thread` (pool), or `auto` (measured)."""
    inline_max_ms: float = 2.0
    """In auto mode, models whose warm-up p99 is below this run inline."""
    onnx_threads: int = 1
    """onnxruntime intra-op threads per session (1 is fastest for small models on a busy core)."""
    max_body_bytes: int = 64 * 1024 * 1024
    """Request bodies larger than this answer 413."""
    frames: bool = True
    """Also serve the scoring gateway's frames hop (one worker only; see frames.py)."""
    frames_port: int = 0
    """Port of the frames hop (0: any free port; GET /modelops/frames names it)."""
    graceful_timeout_s: float = 20.0
    """On SIGTERM, how long in-flight requests may take before the worker stops."""
    log_level: str = "INFO"
    """Minimum log level."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "ServerSettings":
        """Defaults, overridden by MODELOPS_MODELSERVER_* variables, overridden by `overrides`."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _coerce(type(getattr(cls(), f.name)), raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)

    def as_env(self) -> dict[str, str]:
        """These settings as environment variables (passed to worker processes)."""
        return {ENV_PREFIX + f.name.upper(): str(getattr(self, f.name)) for f in fields(self)}


def _coerce(kind: type, raw: str) -> Any:
    if kind is bool:
        return raw.lower() in ("1", "true", "yes")
    return kind(raw)

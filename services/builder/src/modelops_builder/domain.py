"""Packages, their digests and the Dockerfiles they build with. Pure: no I/O, no frameworks."""

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from modelops_contracts.api.environments import (
    PIP_REQUIREMENT_PATTERN,
    PYTHON_VERSION,
    normalized_requirements,
)

MODEL_DIR = "/model"
VENV = "/opt/venv"
SERVER_PORT = 5001


class PackageError(ValueError):
    """A package request that cannot be built as asked."""


def digest(value: Any) -> str:
    """sha256 of a value's canonical JSON."""
    raw = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class Environment:
    """What the image's Python needs: pip requirements and the Python version."""

    python_version: str = PYTHON_VERSION
    requirements: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.python_version != PYTHON_VERSION:
            raise PackageError(
                f"python {self.python_version} unsupported: the base has {PYTHON_VERSION}"
            )
        for req in self.requirements:
            if not re.fullmatch(PIP_REQUIREMENT_PATTERN, req):
                raise PackageError(f"requirement {req!r} is not a plain pip requirement")

    def digest(self, server_wheel_sha: str, base_image: str) -> str:
        """The environment layer's key: requirements + the model server's wheel + the base."""
        reqs = normalized_requirements(self.requirements)
        return digest([self.python_version, reqs, server_wheel_sha, base_image])


@dataclass(frozen=True)
class Manifest:
    """A package: one model version, an entry script or none (ONNX), environment, schema."""

    model_name: str
    version: int
    content_digest: str
    framework: str
    files: tuple[tuple[str, str, int], ...]
    """(path, sha256, size) of the model version's files."""
    environment: Environment = field(default_factory=Environment)
    entry_script: str | None = None
    """Source of score.py (init/run); None serves the ONNX file directly."""
    schema: dict[str, Any] = field(default_factory=dict)
    extra_files: tuple[tuple[str, str], ...] = ()
    """(path, text) written next to the model."""
    sample_input: Any = None
    script_input: str = "numpy"
    base_image: str = ""

    def __post_init__(self) -> None:
        if self.entry_script is None and not self.onnx_file():
            raise PackageError(
                f"{self.model_name}:{self.version} has no .onnx file: give an entry script "
                "(score.py with init() and run(data)) or convert the model to ONNX first"
            )
        for path, _ in self.extra_files:
            if path.startswith("/") or ".." in path.split("/") or path in ("modelserver.json",):
                raise PackageError(f"extra file path {path!r} is not allowed")

    def onnx_file(self) -> str | None:
        onnx = [p for p, _, _ in self.files if p.endswith(".onnx")]
        return onnx[0] if len(onnx) == 1 else None

    def digest(self, env_digest: str) -> str:
        """Same digest, same image: the builder never builds it twice."""
        return digest(
            {
                "model": [self.model_name, self.version, self.content_digest],
                "env": env_digest,
                "entry_script": self.entry_script,
                "schema": self.schema,
                "extra": sorted(self.extra_files),
                "sample": self.sample_input,
                "script_input": self.script_input,
            }
        )

    def server_metadata(self) -> dict[str, Any]:
        """The model server's modelserver.json for this package."""
        meta: dict[str, Any] = {
            "name": self.model_name,
            "version": str(self.version),
            "framework": self.framework,
            "script_input": self.script_input,
        }
        if self.entry_script is not None:
            meta["entry_script"] = "score.py"
            meta["model_file"] = None
        else:
            meta["model_file"] = self.onnx_file()
        if self.schema:
            meta["schema"] = self.schema
        if self.sample_input is not None:
            meta["sample_input"] = self.sample_input
        return meta


def image_repository(model_name: str) -> str:
    return f"modelops/{model_name}"


def image_tag(model_name: str, version: int, manifest_digest: str) -> str:
    return f"{image_repository(model_name)}:{version}-{manifest_digest[:12]}"


def env_image_tag(env_digest: str) -> str:
    return f"modelops/env:{env_digest[:16]}"


def env_dockerfile(base_image: str) -> str:
    """The environment image: a venv with the wheels installed offline (no network in builds)."""
    return "\n".join(
        [
            f"FROM {base_image}",
            f"RUN python3 -m venv {VENV}",
            "COPY wheels/ /tmp/wheels/",
            f"RUN {VENV}/bin/pip install --no-index --no-cache-dir --disable-pip-version-check "
            "--find-links /tmp/wheels -r /tmp/wheels/requirements.txt && rm -rf /tmp/wheels",
            "",
        ]
    )


def model_dockerfile(env_image: str, manifest_digest: str) -> str:
    """The model image: the environment image plus the model folder (the only changing layer)."""
    return "\n".join(
        [
            f"FROM {env_image}",
            f"COPY model/ {MODEL_DIR}/",
            f"ENV MODELOPS_MODELSERVER_MODEL_DIR={MODEL_DIR} "
            f"MODELOPS_MODELSERVER_PORT={SERVER_PORT} PYTHONDONTWRITEBYTECODE=1",
            f'LABEL org.modelops.manifest-digest="{manifest_digest}"',
            f"EXPOSE {SERVER_PORT}",
            f'CMD ["{VENV}/bin/python", "-m", "modelops_modelserver"]',
            "",
        ]
    )


def log_tail(lines: list[str], count: int = 40) -> str:
    return "\n".join(lines[-count:])

"""SDK of the builder: packages, image builds (with streamed logs), ONNX conversions, profiles,
and the local debug mode (the model server on a port, without Docker)."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from modelops_client.config import ClientSettings
from modelops_client.http import ServiceClient, raise_for_problem


class BuilderClient(ServiceClient):
    """The builder's HTTP API."""

    def __init__(self, settings: ClientSettings | None = None, base_url: str | None = None) -> None:
        settings = settings or ClientSettings()
        super().__init__(
            base_url or settings.builder_url, user=settings.user, timeout_s=settings.timeout_s
        )

    def create_package(self, model: str, version: str = "latest", **fields: Any) -> dict[str, Any]:
        """fields: entry_script (source), requirements, schema, extra_files, sample_input..."""
        body = {"model": model, "version": version, **fields}
        result: dict[str, Any] = self.request("POST", "/v1/packages", json=body).json()
        return result

    def list_packages(self, model: str | None = None) -> list[dict[str, Any]]:
        params = {"model": model} if model else {}
        result: list[dict[str, Any]] = self.request("GET", "/v1/packages", params=params).json()
        return result

    def get_package(self, package_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"/v1/packages/{package_id}").json()
        return result

    def build(self, package_id: str) -> dict[str, Any]:
        """Start (or reuse) the image build; returns at once."""
        result: dict[str, Any] = self.request("POST", f"/v1/packages/{package_id}/build").json()
        return result

    def build_and_follow(self, package_id: str) -> Iterator[str]:
        """Start the build and yield its log lines live, ending with `status: ...`."""
        url = f"/v1/packages/{package_id}/build"
        yield from self._lines("POST", url, {"follow": "true"})

    def logs(self, image_id: str, follow: bool = True) -> Iterator[str]:
        yield from self._lines(
            "GET", f"/v1/images/{image_id}/logs", {"follow": str(follow).lower()}
        )

    def _lines(self, method: str, url: str, params: dict[str, str]) -> Iterator[str]:
        with self.http.stream(method, url, params=params, timeout=None) as response:
            if not response.is_success:
                response.read()
                raise_for_problem(response)
            yield from response.iter_lines()

    def convert(
        self, model: str, version: str = "latest", sample_input: Any = None, tolerance: float = 1e-4
    ) -> dict[str, Any]:
        body = {
            "model": model,
            "version": version,
            "sample_input": sample_input,
            "tolerance": tolerance,
        }
        result: dict[str, Any] = self.request("POST", "/v1/conversions", json=body).json()
        return result

    def profile(self, package_id: str, **fields: Any) -> dict[str, Any]:
        """fields: cpus, memory_mb, levels, seconds_per_level, latency_target_ms, sample_input."""
        body = {"package_id": package_id, **fields}
        result: dict[str, Any] = self.request("POST", "/v1/profiles", json=body).json()
        return result


def serve_locally(model_dir: Path, port: int = 5001, **settings: Any) -> subprocess.Popen[bytes]:
    """Local debug mode (Azure's LocalWebservice): the model server on a port, no Docker.

    Needs the `modelops-modelserver` package installed; the folder holds the model files and
    modelserver.json. Returns the process (terminate() stops it gracefully).
    """
    args = [sys.executable, "-m", "modelops_modelserver", "--model-dir", str(model_dir)]
    args += ["--port", str(port), "--host", "127.0.0.1"]
    for key, value in settings.items():
        args += ["--" + key.replace("_", "-"), str(value)]
    return subprocess.Popen(args)

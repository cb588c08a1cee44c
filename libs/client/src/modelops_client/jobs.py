"""The jobs SDK: code snapshots, job definitions, runs, their logs and metrics, promotion
policies and decisions."""

import gzip
import hashlib
import io
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelops_client.config import ClientSettings
from modelops_client.http import ServiceClient

Json = dict[str, Any]
SKIPPED = frozenset({"__pycache__", ".git", ".venv", ".mypy_cache", ".pytest_cache"})
ENDED = frozenset({"completed", "failed", "cancelled"})


def _reset(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    return info


def snapshot(folder: Path) -> bytes:
    """A tar.gz of the folder, reproducible: the same files give the same sha256."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if path.is_file() and not SKIPPED.intersection(rel.parts):
                tar.add(path, arcname=rel.as_posix(), filter=_reset)
    return gzip.compress(raw.getvalue(), mtime=0)


class JobsClient:
    """Synchronous client of the jobs service's `/v1/snapshots`, `/v1/jobs` and `/v1/runs`."""

    def __init__(self, settings: ClientSettings | None = None) -> None:
        s = settings or ClientSettings()
        self.client = ServiceClient(s.jobs_url, user=s.user, timeout_s=s.timeout_s)

    def close(self) -> None:
        self.client.close()

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.request(method, path, **kwargs).json()

    def upload_code(self, folder: Path) -> str:
        """Upload a snapshot of the folder; returns its sha256."""
        data = snapshot(folder)
        sha = hashlib.sha256(data).hexdigest()
        self.client.request("PUT", f"/v1/snapshots/{sha}", content=data)
        return sha

    def create_job(
        self,
        name: str,
        command: list[str],
        *,
        code: Path | None = None,
        parameters: dict[str, str] | None = None,
        param_args: bool = False,
        timeout_s: float = 3600.0,
        outputs: list[Json] | None = None,
        description: str = "",
        triggers: list[Json] | None = None,
        schedule_cron: str | None = None,
        inputs: list[Json] | None = None,
        environment: Json | None = None,
        resources: Json | None = None,
    ) -> Json:
        """Define a job; `outputs` items: {"model_name", "path", "framework"?, "tags"?};
        `triggers` items: {"event", "filter"?, "cooldown_s"?}; `schedule_cron` in UTC;
        `inputs` items: {"name", "dataset", "version"?} or {"name", "endpoint", "window_s"?};
        `environment`: {"requirements"?, "runtime"? (process or container), "base_image"?}
        (unset: the service's Python); `resources` (container runs): {"cpus"?, "memory_mb"?}."""
        body = {
            "name": name,
            "command": command,
            "code_sha256": self.upload_code(code) if code else None,
            "parameters": parameters or {},
            "param_args": param_args,
            "timeout_s": timeout_s,
            "outputs": outputs or [],
            "description": description,
            "triggers": triggers or [],
            "schedule_cron": schedule_cron,
            "inputs": inputs or [],
            "environment": environment,
            "resources": resources,
        }
        result: Json = self._json("POST", "/v1/jobs", json=body)
        return result

    def list_jobs(self) -> list[Json]:
        items: list[Json] = self._json("GET", "/v1/jobs")["items"]
        return items

    def get_job(self, name: str) -> Json:
        result: Json = self._json("GET", f"/v1/jobs/{name}")
        return result

    def start_run(self, name: str, parameters: dict[str, str] | None = None) -> Json:
        body = {"parameters": parameters or {}}
        result: Json = self._json("POST", f"/v1/jobs/{name}/runs", json=body)
        return result

    def list_runs(self, job: str | None = None, limit: int = 50) -> list[Json]:
        params: Json = {"limit": limit} | ({"job": job} if job else {})
        items: list[Json] = self._json("GET", "/v1/runs", params=params)["items"]
        return items

    def get_run(self, run_id: str) -> Json:
        result: Json = self._json("GET", f"/v1/runs/{run_id}")
        return result

    def cancel(self, run_id: str) -> Json:
        result: Json = self._json("POST", f"/v1/runs/{run_id}/cancel")
        return result

    def metrics(self, run_id: str) -> Json:
        result: Json = self._json("GET", f"/v1/runs/{run_id}/metrics")
        return result

    def logs(self, run_id: str, offset: int = 0) -> tuple[bytes, int, str]:
        """Log bytes from `offset`, the next offset, and the run's state."""
        resp = self.client.request("GET", f"/v1/runs/{run_id}/logs", params={"offset": offset})
        return resp.content, int(resp.headers["x-log-next-offset"]), resp.headers["x-run-state"]

    def follow(self, run_id: str, write: Callable[[bytes], None], poll_s: float = 1.0) -> Json:
        """Stream the log to `write` until the run ends; returns the ended run."""
        offset = 0
        while True:
            data, offset, state = self.logs(run_id, offset)
            if data:
                write(data)
            if state in ENDED:
                run = self.get_run(run_id)
                data, offset, _ = self.logs(run_id, offset)  # what the live read missed
                if data:
                    write(data)
                return run
            time.sleep(poll_s)

    def set_policy(self, model_name: str, policy: Json) -> Json:
        """Set the model's promotion policy: {"alias"?, "evaluation", "criteria", ...}."""
        result: Json = self._json("PUT", f"/v1/policies/{model_name}", json=policy)
        return result

    def get_policy(self, model_name: str) -> Json:
        result: Json = self._json("GET", f"/v1/policies/{model_name}")
        return result

    def list_policies(self) -> list[Json]:
        items: list[Json] = self._json("GET", "/v1/policies")["items"]
        return items

    def delete_policy(self, model_name: str) -> None:
        self.client.request("DELETE", f"/v1/policies/{model_name}")

    def promote(self, model_name: str, version: int, dry_run: bool = False) -> Json:
        """Judge the version against the champion by the policy (dry run: compare only)."""
        body = {"model_name": model_name, "version": version, "dry_run": dry_run}
        result: Json = self._json("POST", "/v1/promotions", json=body)
        return result

    def promotions(self, model_name: str | None = None, limit: int = 50) -> list[Json]:
        params: Json = {"limit": limit} | ({"model": model_name} if model_name else {})
        items: list[Json] = self._json("GET", "/v1/promotions", params=params)["items"]
        return items

    def get_promotion(self, promotion_id: str) -> Json:
        result: Json = self._json("GET", f"/v1/promotions/{promotion_id}")
        return result

    def review(self, promotion_id: str, approve: bool, reason: str = "") -> Json:
        verb = "approve" if approve else "reject"
        path = f"/v1/promotions/{promotion_id}/{verb}"
        result: Json = self._json("POST", path, json={"reason": reason})
        return result

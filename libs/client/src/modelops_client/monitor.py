"""SDK of the drift monitor: monitors, runs and their reports."""

from pathlib import Path
from typing import Any
from urllib.parse import quote

from modelops_client.config import ClientSettings
from modelops_client.http import ServiceClient

PARQUET = {"content-type": "application/vnd.apache.parquet"}


class MonitorClient:
    """`/v1/monitors` of the drift monitor."""

    def __init__(self, settings: ClientSettings | None = None) -> None:
        s = settings or ClientSettings()
        self.api = ServiceClient(s.monitor_url, user=s.user, timeout_s=max(s.timeout_s, 600.0))

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> "MonitorClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a monitor; its baseline is summarised once, now."""
        result: dict[str, Any] = self.api.request("POST", "/v1/monitors", json=body).json()
        return result

    def list_monitors(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        params = {"endpoint": endpoint} if endpoint else {}
        result: list[dict[str, Any]] = self.api.request("GET", "/v1/monitors", params=params).json()
        return result

    def show(self, monitor_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.api.request("GET", f"/v1/monitors/{monitor_id}").json()
        return result

    def run(
        self, monitor_id: str, data: Path | None = None, window: tuple[str, str] | None = None
    ) -> dict[str, Any]:
        """Run now on a Parquet file, a window of collected data, or the last window."""
        path = f"/v1/monitors/{monitor_id}/runs"
        if data is not None:
            resp = self.api.request("POST", path, content=data.read_bytes(), headers=PARQUET)
        else:
            body = {"window_start": window[0], "window_end": window[1]} if window else {}
            resp = self.api.request("POST", path, json=body)
        result: dict[str, Any] = resp.json()
        return result

    def runs(self, monitor_id: str, limit: int = 50) -> list[dict[str, Any]]:
        resp = self.api.request("GET", f"/v1/monitors/{monitor_id}/runs", params={"limit": limit})
        result: list[dict[str, Any]] = resp.json()
        return result

    def report(self, monitor_id: str, run_id: str, kind: str = "report") -> bytes:
        """A run's HTML report (`report`, `evidently`) or JSON result (`result`)."""
        return self.api.request("GET", f"/v1/monitors/{monitor_id}/runs/{run_id}/{kind}").content

    def plot(
        self, monitor_id: str, feature: str, run_id: str | None = None, fmt: str = "html"
    ) -> bytes:
        """A feature's plot: baseline vs current in one run, or (no run) its drift score over
        time; an HTML page (`html`) or the plotly figure (`json`)."""
        name = quote(feature, safe="")
        path = (
            f"/v1/monitors/{monitor_id}/runs/{run_id}/plots/{name}"
            if run_id
            else f"/v1/monitors/{monitor_id}/plots/{name}"
        )
        return self.api.request("GET", path, params={"format": fmt}).content

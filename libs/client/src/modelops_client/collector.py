"""SDK of the data collector: ground-truth feedback in, collected windows out."""

from pathlib import Path
from typing import Any

from modelops_client.config import ClientSettings
from modelops_client.http import ServiceClient

CSV = {"content-type": "text/csv"}


class CollectorClient:
    """`/v1/feedback` and `/v1/collected` of the data collector."""

    def __init__(self, settings: ClientSettings | None = None) -> None:
        s = settings or ClientSettings()
        self.api = ServiceClient(s.collector_url, user=s.user, timeout_s=max(s.timeout_s, 300.0))

    def close(self) -> None:
        self.api.close()

    def upload_feedback(
        self, labels: list[dict[str, Any]] | Path, endpoint: str | None = None
    ) -> dict[str, Any]:
        """Upsert labels by request id: rows `{"request_id", "label"}`, or a CSV/JSON file."""
        params = {"endpoint": endpoint} if endpoint else {}
        if isinstance(labels, Path):
            headers = (
                CSV if labels.suffix.lower() == ".csv" else {"content-type": "application/json"}
            )
            resp = self.api.request(
                "POST", "/v1/feedback", content=labels.read_bytes(), headers=headers, params=params
            )
        else:
            resp = self.api.request("POST", "/v1/feedback", json=labels, params=params)
        result: dict[str, Any] = resp.json()
        return result

    def _params(
        self, endpoint: str, start: str | None, end: str | None, model_version: str | None
    ) -> dict[str, str]:
        params = {"endpoint": endpoint}
        for key, value in (("start", start), ("end", end), ("model_version", model_version)):
            if value is not None:
                params[key] = value
        return params

    def export_parquet(
        self,
        endpoint: str,
        path: Path,
        start: str | None = None,
        end: str | None = None,
        model_version: str | None = None,
    ) -> int:
        """Write a window (joined with labels) to a Parquet file; its size (0: no rows)."""
        params = self._params(endpoint, start, end, model_version) | {"format": "parquet"}
        resp = self.api.request("GET", "/v1/collected", params=params)
        if resp.status_code == 204:
            return 0
        path.write_bytes(resp.content)
        return len(resp.content)

    def rows(
        self,
        endpoint: str,
        start: str | None = None,
        end: str | None = None,
        model_version: str | None = None,
        page_size: int = 1000,
    ) -> list[dict[str, Any]]:
        """Every row of a window as JSON, page by page."""
        params = self._params(endpoint, start, end, model_version)
        params |= {"format": "json", "page_size": str(page_size)}
        out: list[dict[str, Any]] = []
        page: int | None = 1
        while page is not None:
            body = self.api.request("GET", "/v1/collected", params=params | {"page": str(page)})
            data: dict[str, Any] = body.json()
            out.extend(data["rows"])
            page = data["next_page"]
        return out

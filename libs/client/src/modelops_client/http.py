"""The SDK's HTTP base: one httpx client per service, problem+json turned into exceptions."""

from typing import Any

import httpx


class ModelOpsClientError(Exception):
    """A request the platform refused or could not answer; `message` says why."""

    def __init__(self, status: int, message: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.body = body or {}


def raise_for_problem(response: httpx.Response) -> None:
    """Raise ModelOpsClientError with the problem document's detail on any 4xx/5xx."""
    if response.is_success:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    detail = body.get("detail") if isinstance(body, dict) else None
    raise ModelOpsClientError(response.status_code, str(detail or response.text[:500]), body)


class ServiceClient:
    """A synchronous client of one service's HTTP API."""

    def __init__(self, base_url: str, *, user: str, timeout_s: float = 60.0) -> None:
        self.http = httpx.Client(
            base_url=base_url, timeout=timeout_s, headers={"modelops-user": user}
        )

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ModelOpsClientError(0, f"cannot reach {self.http.base_url}: {exc}") from exc
        raise_for_problem(response)
        return response

    def close(self) -> None:
        self.http.close()

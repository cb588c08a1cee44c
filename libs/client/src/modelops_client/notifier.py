"""The notifier SDK: webhook subscriptions, deliveries (and replays) and alert rules."""

from datetime import datetime
from typing import Any

from modelops_client.config import ClientSettings
from modelops_client.http import ServiceClient

Json = dict[str, Any]


class NotifierClient:
    """Synchronous client of the notifier's `/v1/subscriptions`, `/v1/deliveries`, `/v1/alerts`."""

    def __init__(self, settings: ClientSettings | None = None) -> None:
        s = settings or ClientSettings()
        self.client = ServiceClient(s.notifier_url, user=s.user, timeout_s=s.timeout_s)

    def close(self) -> None:
        self.client.close()

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.request(method, path, **kwargs).json()

    # -- subscriptions --------------------------------------------------------------------------
    def create_subscription(
        self,
        url: str,
        *,
        event_types: list[str] | None = None,
        subjects: list[str] | None = None,
        headers: dict[str, str] | None = None,
        description: str = "",
        paused: bool = False,
        allow_insecure: bool = False,
    ) -> Json:
        """Create a subscription; the answer's `secret` (whsec_...) is shown only this once."""
        body = {
            "url": url,
            "event_types": event_types or ["*"],
            "subjects": subjects or [],
            "headers": headers or {},
            "description": description,
            "paused": paused,
            "allow_insecure": allow_insecure,
        }
        result: Json = self._json("POST", "/v1/subscriptions", json=body)
        return result

    def list_subscriptions(self) -> list[Json]:
        items: list[Json] = self._json("GET", "/v1/subscriptions")["items"]
        return items

    def get_subscription(self, sub_id: str) -> Json:
        result: Json = self._json("GET", f"/v1/subscriptions/{sub_id}")
        return result

    def update_subscription(self, sub_id: str, **changes: Any) -> Json:
        """Change url, event_types, subjects, headers, description, paused, disabled..."""
        result: Json = self._json("PATCH", f"/v1/subscriptions/{sub_id}", json=changes)
        return result

    def pause(self, sub_id: str) -> Json:
        result: Json = self._json("POST", f"/v1/subscriptions/{sub_id}/pause")
        return result

    def resume(self, sub_id: str) -> Json:
        result: Json = self._json("POST", f"/v1/subscriptions/{sub_id}/resume")
        return result

    def delete_subscription(self, sub_id: str) -> None:
        self.client.request("DELETE", f"/v1/subscriptions/{sub_id}")

    def rotate_secret(self, sub_id: str, overlap_s: float | None = None) -> Json:
        """A new secret (shown once); the old one keeps signing during the overlap."""
        body = {"overlap_s": overlap_s}
        result: Json = self._json("POST", f"/v1/subscriptions/{sub_id}/rotate-secret", json=body)
        return result

    def test(self, sub_id: str) -> Json:
        """Send a signed `modelops.ping` now; returns the recorded delivery."""
        result: Json = self._json("POST", f"/v1/subscriptions/{sub_id}/test")
        return result

    def replay_since(
        self, sub_id: str, since: datetime, statuses: tuple[str, ...] = ("dead_letter",)
    ) -> int:
        """Replay the subscription's finished deliveries created since a time."""
        body = {"since": since.isoformat(), "statuses": list(statuses)}
        result = self._json("POST", f"/v1/subscriptions/{sub_id}/replay", json=body)
        return int(result["replayed"])

    # -- deliveries -----------------------------------------------------------------------------
    def deliveries(
        self,
        *,
        subscription_id: str | None = None,
        event_id: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[Json]:
        params = {"subscription_id": subscription_id, "event_id": event_id, "status": status}
        query = {k: v for k, v in params.items() if v} | {"limit": limit}
        items: list[Json] = self._json("GET", "/v1/deliveries", params=query)["items"]
        return items

    def get_delivery(self, delivery_id: str) -> Json:
        result: Json = self._json("GET", f"/v1/deliveries/{delivery_id}")
        return result

    def replay(self, delivery_id: str) -> Json:
        """Attempt a finished delivery again, with the same webhook-id."""
        result: Json = self._json("POST", f"/v1/deliveries/{delivery_id}/replay")
        return result

    # -- alerts ---------------------------------------------------------------------------------
    def create_alert(
        self,
        name: str,
        event_types: list[str],
        channel: Json,
        *,
        subjects: list[str] | None = None,
        where: dict[str, str] | None = None,
        cooldown_s: float | None = None,
        allow_insecure: bool = False,
    ) -> Json:
        """channel: {"kind": "slack", "url": ...} or {"kind": "email", "to": [...]}."""
        body = {
            "name": name,
            "event_types": event_types,
            "subjects": subjects or [],
            "where": where or {},
            "channel": channel,
            "cooldown_s": cooldown_s,
            "allow_insecure": allow_insecure,
        }
        result: Json = self._json("POST", "/v1/alerts", json=body)
        return result

    def list_alerts(self) -> list[Json]:
        items: list[Json] = self._json("GET", "/v1/alerts")["items"]
        return items

    def delete_alert(self, rule_id: str) -> None:
        self.client.request("DELETE", f"/v1/alerts/{rule_id}")

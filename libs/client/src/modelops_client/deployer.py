"""The deployer SDK: endpoints (keys, traffic), deployments (create, update in place), rollouts."""

import time
from collections.abc import Callable
from typing import Any

from modelops_client.config import ClientSettings
from modelops_client.http import ModelOpsClientError, ServiceClient

Json = dict[str, Any]
TERMINAL = ("Healthy", "Failed", "Unschedulable")


class DeployerClient:
    """Synchronous client of the deployer's `/v1/endpoints` and `/v1/deployments`."""

    def __init__(self, settings: ClientSettings | None = None) -> None:
        s = settings or ClientSettings()
        self.client = ServiceClient(s.deployer_url, user=s.user, timeout_s=s.timeout_s)

    def close(self) -> None:
        self.client.close()

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.request(method, path, **kwargs).json()

    # -- endpoints -------------------------------------------------------------------------
    def create_endpoint(
        self,
        name: str,
        *,
        auth_mode: str = "key",
        follow: str | None = None,
        follow_rollout: Json | None = None,
        **extra: Any,
    ) -> Json:
        """Create an endpoint; the answer's `keys` are shown only this once.

        `follow="model@alias"` rolls out each version the alias moves to, with
        `follow_rollout={"steps": [10, 50, 100], "bake_s": 60, "guards": {...}}` (any key
        left out takes the deployer's default)."""
        body = {"name": name, "auth_mode": auth_mode, "follow": follow, **extra}
        if follow_rollout is not None:
            body["follow_rollout"] = follow_rollout
        result: Json = self._json("POST", "/v1/endpoints", json=body)
        return result

    def get_endpoint(self, name: str) -> Json:
        result: Json = self._json("GET", f"/v1/endpoints/{name}")
        return result

    def list_endpoints(self) -> list[Json]:
        result: list[Json] = self._json("GET", "/v1/endpoints")
        return result

    def regenerate_key(self, name: str, slot: str) -> str:
        """A new primary or secondary key (the other keeps working)."""
        return str(self._json("POST", f"/v1/endpoints/{name}/keys/{slot}/regenerate")["key"])

    def set_traffic(
        self, name: str, traffic: dict[str, int] | None = None, mirror: dict[str, int] | None = None
    ) -> Json:
        body = {"traffic": traffic, "mirror": mirror}
        result: Json = self._json("PUT", f"/v1/endpoints/{name}/traffic", json=body)
        return result

    def delete_endpoint(self, name: str) -> None:
        self.client.request("DELETE", f"/v1/endpoints/{name}")

    def start_rollout(self, endpoint: str, to: str, **policy: Any) -> Json:
        """Progressive rollout: steps, bake_s, guards (max_error_rate, max_p99_ms, min_requests)."""
        result: Json = self._json(
            "POST", f"/v1/endpoints/{endpoint}/rollouts", json={"to": to, **policy}
        )
        return result

    def start_shadow(
        self, endpoint: str, version: int, percent: int = 50, model_name: str | None = None
    ) -> Json:
        """Mirror `percent`% of the endpoint's traffic to another version once it is Healthy;
        state `AwaitingImage` means its image is not built yet (ask again)."""
        body = {"version": version, "percent": percent, "model_name": model_name}
        result: Json = self._json("POST", f"/v1/endpoints/{endpoint}/shadows", json=body)
        return result

    def shadow(self, endpoint: str, version: int) -> Json:
        """A shadow's state, mirrored share and agreement with the live answers."""
        result: Json = self._json("GET", f"/v1/endpoints/{endpoint}/shadows/{version}")
        return result

    def stop_shadow(self, endpoint: str, version: int) -> None:
        self.client.request("DELETE", f"/v1/endpoints/{endpoint}/shadows/{version}")

    # -- deployments -----------------------------------------------------------------------
    def create_deployment(self, name: str, endpoint: str, **spec: Any) -> Json:
        body = {"name": name, "endpoint": endpoint, **spec}
        result: Json = self._json("POST", "/v1/deployments", json=body)
        return result

    def get_deployment(self, name: str) -> Json:
        result: Json = self._json("GET", f"/v1/deployments/{name}")
        return result

    def list_deployments(self, endpoint: str | None = None) -> list[Json]:
        params = {"endpoint": endpoint} if endpoint else {}
        result: list[Json] = self._json("GET", "/v1/deployments", params=params)
        return result

    def update_deployment(self, name: str, **changes: Any) -> Json:
        result: Json = self._json("PATCH", f"/v1/deployments/{name}", json=changes)
        return result

    def logs(self, name: str, lines: int = 100) -> Json:
        result: Json = self._json("GET", f"/v1/deployments/{name}/logs", params={"lines": lines})
        return result

    def delete_deployment(self, name: str) -> None:
        self.client.request("DELETE", f"/v1/deployments/{name}")

    def wait(
        self,
        name: str,
        *,
        timeout_s: float = 300.0,
        on_change: Callable[[Json], None] | None = None,
    ) -> Json:
        """Poll until the deployment is Healthy, Failed or Unschedulable (with its new spec)."""
        deadline, seen = time.monotonic() + timeout_s, None
        while True:
            doc = self.get_deployment(name)
            key = (doc.get("state"), len(doc.get("upstreams", [])), len(doc.get("replicas", [])))
            if key != seen and on_change is not None:
                on_change(doc)
            seen = key
            current = [r for r in doc.get("replicas", []) if r.get("spec_gen") == doc["spec_gen"]]
            settled = all(r.get("ready") for r in current) and len(doc["replicas"]) == len(current)
            if doc.get("state") in TERMINAL and (settled or doc["state"] != "Healthy"):
                return doc
            if time.monotonic() > deadline:
                raise ModelOpsClientError(0, f"{name} still {doc.get('state')} after {timeout_s}s")
            time.sleep(0.5)

"""The scoring SDK: invoke an endpoint through the gateway, read its A/B comparison, wait until
the gateway routes a deployment."""

import time
from dataclasses import dataclass
from typing import Any

import httpx

from modelops_client.config import ClientSettings
from modelops_client.http import raise_for_problem


@dataclass(frozen=True)
class Prediction:
    """A scoring answer and the deployment that produced it."""

    status: int
    body: Any
    deployment: str | None
    model_version: str | None


class GatewayClient:
    """Scores through `/endpoints/{name}/score` (or `/invocations`) with an endpoint key."""

    def __init__(self, settings: ClientSettings | None = None) -> None:
        s = settings or ClientSettings()
        self.http = httpx.Client(base_url=s.gateway_url, timeout=s.timeout_s)

    def close(self) -> None:
        self.http.close()

    def invoke(
        self,
        endpoint: str,
        body: Any,
        *,
        key: str | None = None,
        deployment: str | None = None,
        route: str = "score",
    ) -> Prediction:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        if deployment:
            headers["modelops-deployment"] = deployment
        resp = self.http.post(f"/endpoints/{endpoint}/{route}", json=body, headers=headers)
        raise_for_problem(resp)
        return Prediction(
            resp.status_code,
            resp.json(),
            resp.headers.get("modelops-deployment"),
            resp.headers.get("modelops-model-version"),
        )

    def comparison(self, endpoint: str, a: str | None = None, b: str | None = None) -> Any:
        """Per-deployment counts, error rates, latency and a z-test on error rates."""
        params = {k: v for k, v in (("a", a), ("b", b)) if v}
        resp = self.http.get(f"/v1/endpoints/{endpoint}/comparison", params=params)
        raise_for_problem(resp)
        return resp.json()

    def routes(self) -> Any:
        """The gateway's routing table: endpoints (traffic, mirror) and deployments (state)."""
        resp = self.http.get("/v1/routes")
        raise_for_problem(resp)
        return resp.json()

    def wait_routed(self, endpoint: str, deployment: str, timeout_s: float = 60.0) -> None:
        """Until this gateway sends the endpoint's traffic to the deployment, Healthy (the
        deployer's state reaches the gateway by event, a moment after the deployer has it)."""
        deadline = time.monotonic() + timeout_s
        while True:
            table = self.routes()
            share = table["endpoints"].get(endpoint, {}).get("traffic", {}).get(deployment, 0)
            target = table["deployments"].get(deployment) or {}
            if share > 0 and target.get("state") == "Healthy" and target.get("upstreams"):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the gateway does not route {endpoint} to {deployment}")
            time.sleep(0.2)

"""The Kubernetes target: Deployment + Service + HorizontalPodAutoscaler for one deployment,
validated against the Kubernetes OpenAPI models of the official Python client."""

from typing import Any

from kubernetes.client import ApiClient

MODEL_CLASSES = {"Deployment": "V1Deployment", "Service": "V1Service",
                 "HorizontalPodAutoscaler": "V2HorizontalPodAutoscaler"}  # fmt: skip
PORT = 5001


def manifests(doc: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
    """The three objects, as the API server expects them."""
    name = f"modelops-{doc['_id']}"[:63]
    labels = {"app.kubernetes.io/name": name, "modelops.deployment": doc["_id"],
              "modelops.endpoint": doc["endpoint"]}  # fmt: skip
    meta = {"name": name, "namespace": namespace, "labels": labels}
    resources = {"cpu": str(doc["cpu"]), "memory": f"{doc['memory_mb']}Mi"}
    # frames off: one long-lived link through the Service would reach one pod of all replicas
    env = [{"name": "MODELOPS_MODELSERVER_PORT", "value": str(PORT)},
           {"name": "MODELOPS_MODELSERVER_FRAMES", "value": "false"},
           {"name": "MODELOPS_MODELSERVER_MAX_CONCURRENCY", "value": str(doc["max_concurrency"])},
           {"name": "MODELOPS_MODELSERVER_REQUEST_TIMEOUT_S",
            "value": str(doc["request_timeout_s"])}]  # fmt: skip
    probe = {"httpGet": {"path": "/v2/health/ready", "port": PORT}, "periodSeconds": 5}
    live = {**probe, "httpGet": {"path": "/v2/health/live", "port": PORT}}
    container = {"name": "model", "image": doc.get("image") or "modelops/unbuilt:missing",
                 "ports": [{"containerPort": PORT, "name": "http"}], "env": env,
                 "resources": {"requests": resources, "limits": resources},
                 "readinessProbe": probe,
                 "livenessProbe": live}  # fmt: skip
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
        "spec": {"replicas": doc["replicas_min"],
                 "selector": {"matchLabels": {"modelops.deployment": doc["_id"]}},
                 "strategy": {"type": "RollingUpdate",
                              "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 0}},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [container],
                                       "terminationGracePeriodSeconds": 30}}},
    }  # fmt: skip
    service = {
        "apiVersion": "v1", "kind": "Service", "metadata": meta,
        "spec": {"selector": {"modelops.deployment": doc["_id"]},
                 "ports": [{"name": "http", "port": 80, "targetPort": PORT}]},
    }  # fmt: skip
    hpa = {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta,
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                 "minReplicas": doc["replicas_min"],
                 "maxReplicas": max(doc["replicas_min"], doc["replicas_max"]),
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                     "type": "Utilization", "averageUtilization": 70}}}]},
    }  # fmt: skip
    return [deployment, service, hpa]


def validate(manifest: dict[str, Any]) -> list[str]:
    """Problems of one manifest against the client's OpenAPI models (empty = valid).

    Deserialising checks types and required fields; serialising back and comparing
    catches misspelt or unknown fields, which the models would silently drop.
    """
    kind = manifest.get("kind", "")
    model = MODEL_CLASSES.get(kind)
    if model is None:
        return [f"unsupported kind {kind!r}"]
    client = ApiClient()
    try:
        obj = client._ApiClient__deserialize(manifest, model)  # type: ignore[attr-defined]  # the client's own model loader
    except (ValueError, TypeError) as exc:
        return [f"{kind}: {exc}"]
    back = client.sanitize_for_serialization(obj)  # type: ignore[no-untyped-call]  # untyped client
    return [f"{kind}: {p}" for p in _differences(manifest, back, "")]


def _differences(given: Any, parsed: Any, path: str) -> list[str]:
    if isinstance(given, dict):
        if not isinstance(parsed, dict):
            return [f"{path or '/'} is not an object"]
        out = []
        for key, value in given.items():
            if key not in parsed:
                out.append(f"{path}/{key} is not a field of the schema")
            else:
                out += _differences(value, parsed[key], f"{path}/{key}")
        return out
    if isinstance(given, list):
        if not isinstance(parsed, list) or len(parsed) != len(given):
            return [f"{path} is not a list"]
        return [d for i, (g, p) in enumerate(zip(given, parsed, strict=True))
                for d in _differences(g, p, f"{path}/{i}")]  # fmt: skip
    return (
        [] if given == parsed or str(given) == str(parsed) else [f"{path}: {given!r} != {parsed!r}"]
    )

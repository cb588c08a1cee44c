"""`modelops apply -f endpoint.yaml`: declarative endpoints and deployments, like Azure's YAML.

Documents (`---` separated) with `kind: endpoint` or `kind: deployment`; Azure's field names
are accepted (endpoint_name, instance_count, request_settings, scale_settings,
data_collector). Missing resources are created, existing ones updated in place.
"""

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from modelops_client.cli.deployment import follow
from modelops_client.cli.endpoint import _run
from modelops_client.deployer import DeployerClient
from modelops_client.http import ModelOpsClientError

err = Console(stderr=True)
SPEC_KEYS = ("model", "model_dir", "image", "target", "cpu", "memory_mb", "replicas_min",
             "replicas_max", "max_concurrency", "max_queue_wait_s", "request_timeout_s",
             "data_collection", "sample_rate")  # fmt: skip


def deployment_spec(doc: dict[str, Any]) -> dict[str, Any]:
    """Our fields from ours or Azure's names."""
    spec = {k: doc[k] for k in SPEC_KEYS if k in doc}
    if "instance_count" in doc:
        spec["replicas_min"] = doc["instance_count"]
    scale = doc.get("scale_settings", {})
    for ours, azure in (("replicas_min", "min_instances"), ("replicas_max", "max_instances")):
        if azure in scale:
            spec[ours] = scale[azure]
    req = doc.get("request_settings", {})
    if "max_concurrent_requests_per_instance" in req:
        spec["max_concurrency"] = req["max_concurrent_requests_per_instance"]
    if "request_timeout_ms" in req:
        spec["request_timeout_s"] = req["request_timeout_ms"] / 1000
    if "max_queue_wait_ms" in req:
        spec["max_queue_wait_s"] = req["max_queue_wait_ms"] / 1000
    resources = doc.get("resources", {})
    spec.update({k: resources[k] for k in ("cpu", "memory_mb") if k in resources})
    collector = doc.get("data_collector", {})
    if "enabled" in collector:
        spec["data_collection"] = bool(collector["enabled"])
    if "sample_rate" in collector:
        spec["sample_rate"] = float(collector["sample_rate"])
    return spec


def apply_endpoint(client: DeployerClient, doc: dict[str, Any]) -> str:
    name = doc["name"]
    try:
        client.get_endpoint(name)
        verb = "unchanged"
    except ModelOpsClientError as exc:
        if exc.status != 404:
            raise
        created = client.create_endpoint(name, auth_mode=doc.get("auth_mode", "key"),
                                         follow=doc.get("follow"))  # fmt: skip
        for slot, key in created.get("keys", {}).items():
            err.print(f"{name} {slot} key: {key}", markup=False, highlight=False)
        verb = "created"
    if "traffic" in doc or "mirror_traffic" in doc or "mirror" in doc:
        mirror = doc.get("mirror_traffic", doc.get("mirror"))
        client.set_traffic(name, doc.get("traffic"), mirror)
        verb = "configured" if verb == "unchanged" else verb
    return f"endpoint {name} {verb}"


def apply_deployment(client: DeployerClient, doc: dict[str, Any], wait: bool) -> str:
    name, endpoint = doc["name"], doc.get("endpoint_name") or doc["endpoint"]
    spec = deployment_spec(doc)
    try:
        client.get_deployment(name)
    except ModelOpsClientError as exc:
        if exc.status != 404:
            raise
        client.create_deployment(name, endpoint, **spec)
        verb = "created"
    else:
        client.update_deployment(name, **{k: v for k, v in spec.items() if k != "target"})
        verb = "updated"
    if wait:
        follow(client, name, 300.0)
    return f"deployment {name} {verb}"


def apply(
    file: Annotated[Path, typer.Option("--file", "-f", help="YAML with endpoint/deployment docs")],
    wait: bool = True,
) -> None:
    """Create or update the endpoints and deployments a YAML file declares (in order)."""
    docs = [d for d in yaml.safe_load_all(file.read_text()) if d]

    def run(client: DeployerClient) -> None:
        for doc in docs:
            kind = str(doc.get("kind", "deployment" if "endpoint_name" in doc else "endpoint"))
            if kind.lower() == "endpoint":
                err.print(apply_endpoint(client, doc))
            else:
                err.print(apply_deployment(client, doc, wait))

    _run(run)


def register(root: typer.Typer) -> None:
    root.command()(apply)

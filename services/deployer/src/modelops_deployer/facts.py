"""The facts the deployer publishes, built from its documents (pure)."""

from typing import Any

from modelops_contracts.events import DeploymentStateChanged

Doc = dict[str, Any]


def state_event(doc: Doc, state: str, upstreams: list[str], reason: str) -> DeploymentStateChanged:
    """The fact the gateway routes by (generation already bumped in `doc`)."""
    return DeploymentStateChanged(
        deployment_name=doc["_id"], endpoint_name=doc["endpoint"], model_name=doc["model_name"],
        version=doc["version"], state=state, previous_state=doc.get("state"), reason=reason,
        image=doc.get("image"), upstreams=upstreams, max_concurrency=doc["max_concurrency"],
        request_timeout_s=doc["request_timeout_s"], max_queue_wait_s=doc["max_queue_wait_s"],
        data_collection=doc["data_collection"], sample_rate=doc["sample_rate"],
        generation=doc["generation"] + 1,
    )  # fmt: skip


def transition(
    doc: Doc, state: str, upstreams: list[str], reason: str = ""
) -> tuple[Doc, list[Any]]:
    """Changes and events when state, upstreams or reason differ from what was published."""
    if (doc.get("state"), doc.get("upstreams", []), doc.get("reason", "")) == (
        state,
        upstreams,
        reason,
    ):
        return {}, []
    event = state_event(doc, state, upstreams, reason)
    changes = {"state": state, "upstreams": upstreams, "reason": reason,
               "generation": event.generation}  # fmt: skip
    return changes, [event]

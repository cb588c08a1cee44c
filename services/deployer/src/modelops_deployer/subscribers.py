"""The deployer's durable consumers: images, aliases to follow, and rollout guard signals."""

from faststream.nats import NatsRouter

from modelops_contracts.events import DriftDetected, ImageBuilt, ModelAliasSet, PerformanceDegraded
from modelops_deployer import rollout
from modelops_deployer.app_state import Deps
from modelops_deployer.following import follow_alias, follow_image
from modelops_servicekit.runtime import Runtime


def build_router(runtime: Runtime, deps: Deps) -> NatsRouter:
    """Wire each consumed event to its handler."""
    router = NatsRouter()

    async def on_image_built(event: ImageBuilt) -> None:
        await deps.repos.images.update_one(
            {"_id": f"{event.model_name}:{event.version}"},
            {"$set": {"model_name": event.model_name, "version": event.version,
                      "image": event.image, "image_id": event.image_id}},
            upsert=True,
        )  # fmt: skip
        if await follow_image(deps.repos, deps.folders, event.model_name, event.version):
            deps.kick()  # endpoints that awaited this image follow now

    async def on_alias_set(event: ModelAliasSet) -> None:
        since = event.occurred_at.timestamp()
        await follow_alias(deps.repos, deps.folders, event.model_name, event.alias,
                           event.version, since)  # fmt: skip
        deps.kick()  # idempotent: one deployment per endpoint and version

    async def on_drift(event: DriftDetected) -> None:
        await rollout.flag_breach(deps.repos, event.model_name, event.model_version, "drift")
        deps.kick()

    async def on_degraded(event: PerformanceDegraded) -> None:
        metric = f"performance:{event.metric}"
        await rollout.flag_breach(deps.repos, event.model_name, event.model_version, metric)
        deps.kick()

    runtime.consume(router, ImageBuilt, on_image_built)
    runtime.consume(router, ModelAliasSet, on_alias_set)
    runtime.consume(router, DriftDetected, on_drift)
    runtime.consume(router, PerformanceDegraded, on_degraded)
    return router

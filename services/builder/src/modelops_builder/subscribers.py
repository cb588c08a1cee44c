"""The builder's durable consumers: one per event type it consumes."""

import structlog
from faststream.nats import NatsRouter

from modelops_builder.app_deps import Deps
from modelops_builder.packaging import PackageRequest
from modelops_contracts.events import ModelVersionRegistered
from modelops_servicekit.errors import Invalid
from modelops_servicekit.runtime import Runtime

log = structlog.get_logger(__name__)


def build_router(runtime: Runtime, deps: Deps) -> NatsRouter:
    """Wire each consumed event to its handler."""
    router = NatsRouter()

    async def on_model_version_registered(event: ModelVersionRegistered) -> None:
        """With auto-build on for the name: package the version and build it (idempotent:
        the same manifest digest reuses its package and image)."""
        options = await deps.store.auto_build_options(event.model_name)
        if options is None and event.model_name not in deps.settings.auto_build:
            return
        options = options or {}
        request = PackageRequest(
            model=event.model_name,
            version=str(event.version),
            entry_script=options.get("entry_script"),
            requirements=list(options.get("requirements", [])),
        )
        try:
            package, _ = await deps.packager.create_package(request, "auto-build")
        except Invalid as exc:  # e.g. not ONNX and no entry script: nothing to retry
            log.warning("auto_build_refused", model=event.model_name, reason=exc.message)
            return
        image, started = await deps.packager.build(package["_id"])
        log.info("auto_build", package_id=package["_id"], started=started, status=image["status"])

    runtime.consume(router, ModelVersionRegistered, on_model_version_registered)
    return router

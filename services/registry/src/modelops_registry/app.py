"""Composition root of the registry: the only module that builds adapters."""

from typing import cast

from fastapi import FastAPI

import modelops_registry
from modelops_registry import api, api_blobs, api_datasets, blobs, subscribers
from modelops_registry.app_deps import Deps
from modelops_registry.inspection import BlobInspector
from modelops_registry.profiling import BlobProfiler
from modelops_registry.repository import (
    MongoAliases,
    MongoAudit,
    MongoBlobs,
    MongoDeployments,
    MongoVersions,
)
from modelops_registry.settings import RegistrySettings
from modelops_servicekit.inbox import Inbox
from modelops_servicekit.objects import MinioObjectStore
from modelops_servicekit.runtime import Runtime, Wiring, create_service_app
from modelops_servicekit.s3direct import MultipartUploads, StoreLinks


async def wire(runtime: Runtime, app: FastAPI) -> Wiring:
    settings = cast(RegistrySettings, runtime.settings)
    db, store = runtime.db, runtime.objects
    versions = MongoVersions(db, "model_versions", "model_name")
    datasets = MongoVersions(db, "dataset_versions", "dataset_name")
    aliases, deployments, audit = MongoAliases(db), MongoDeployments(db), MongoAudit(db)
    stored, inbox = MongoBlobs(db), Inbox(db)
    for repo in (versions, datasets, aliases, deployments, audit, stored, inbox):
        await repo.ensure_indexes()

    def kick() -> None:
        if runtime.relay is not None:
            runtime.relay.kick()

    parts = MultipartUploads(settings.objects, store.bucket) if settings.store_links else None
    deps = Deps(
        settings=settings,
        versions=versions,
        datasets=datasets,
        aliases=aliases,
        deployments=deployments,
        audit=audit,
        store=store,
        blobs=stored,
        inspector=BlobInspector(store, lambda f: blobs.locate(deps, f), settings.inspect_max_bytes),
        profiler=BlobProfiler(store, lambda f: blobs.locate(deps, f), settings.profile_max_bytes),
        inbox=inbox,
        buckets=lambda bucket: MinioObjectStore(settings.objects, bucket),
        links=StoreLinks(settings.objects, store.bucket) if settings.store_links else None,
        parts=parts,
        kick=kick,
    )
    app.state.deps = deps
    outbox = [versions.collection, datasets.collection, aliases.collection]
    closers = [parts.close] if parts else []
    return Wiring(router=subscribers.build_router(runtime, deps), outbox=outbox, closers=closers)


def create_app(settings: RegistrySettings) -> FastAPI:
    """The registry's ASGI app."""
    description = str(modelops_registry.__doc__)
    routers = [api.router, api_datasets.router, api_blobs.router]
    return create_service_app(settings, wire=wire, routers=routers, description=description)

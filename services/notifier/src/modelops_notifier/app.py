"""Composition root of the notifier: the only module that builds adapters."""

import gc
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import modelops_notifier
from modelops_notifier import api, subscribers
from modelops_notifier.app_deps import Deps
from modelops_notifier.channels import Channels
from modelops_notifier.delivery_store import MongoDeliveries
from modelops_notifier.directory import Directory
from modelops_notifier.dispatcher import Dispatcher
from modelops_notifier.handlers import Notifier
from modelops_notifier.netguard import AddressPolicy
from modelops_notifier.repository import MongoCooldowns, MongoDocuments
from modelops_notifier.settings import NotifierSettings
from modelops_servicekit.runtime import Runtime, Wiring, create_service_app


def build_notifier(runtime: Runtime, settings: NotifierSettings) -> Notifier:
    db, ds = runtime.db, settings.delivery
    subs, rules = MongoDocuments(db, "subscriptions"), MongoDocuments(db, "alert_rules")
    deliveries = MongoDeliveries(db)
    directory = Directory(subs, rules, ds.subscriptions_refresh_s)
    policy = AddressPolicy(ds.allow_private)
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    channels = Channels(policy, ds, settings.smtp)
    dispatcher = Dispatcher(deliveries, subs, directory, channels, ds, owner)
    return Notifier(
        subscriptions=subs,
        rules=rules,
        cooldowns=MongoCooldowns(db),
        deliveries=deliveries,
        directory=directory,
        dispatcher=dispatcher,
        policy=policy,
        secret_overlap_s=ds.secret_overlap_s,
        default_cooldown_s=settings.alert_cooldown_s,
    )


def create_app(settings: NotifierSettings) -> FastAPI:
    """The notifier's ASGI app; the delivery workers run for as long as its lifespan."""

    async def wire(runtime: Runtime, app: FastAPI) -> Wiring:
        notifier = build_notifier(runtime, settings)
        await notifier.deliveries.ensure_indexes()  # type: ignore[attr-defined]  # Mongo only
        await notifier.directory.start()
        await notifier.dispatcher.start()
        app.state.deps = Deps(notifier=notifier)
        workers = settings.delivery.intake_workers
        router = subscribers.build_router(runtime, app.state.deps, workers)
        return Wiring(router=router)

    description = str(modelops_notifier.__doc__)
    app = create_service_app(settings, wire=wire, routers=[api.router], description=description)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):  # the runtime (Mongo, NATS) outlives the workers
            gc.freeze()  # startup objects leave the GC's view: no ~100 ms full collections
            try:
                yield
            finally:
                deps: Deps | None = getattr(app.state, "deps", None)
                if deps is not None:
                    await deps.notifier.dispatcher.stop()
                    await deps.notifier.directory.stop()

    app.router.lifespan_context = lifespan
    return app

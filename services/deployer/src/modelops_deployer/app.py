"""Composition root of the deployer: the only module that builds adapters."""

from pathlib import Path

from fastapi import FastAPI

import modelops_deployer
from modelops_deployer import api, rollout, shadowing, subscribers
from modelops_deployer.app_state import Deps
from modelops_deployer.autoscale import autoscale
from modelops_deployer.model_folders import ModelFolders
from modelops_deployer.peers import GatewayClient, RegistryClient
from modelops_deployer.reconciler import Reconciler
from modelops_deployer.repository import Repositories
from modelops_deployer.settings import DeployerSettings
from modelops_deployer.targets import DockerTarget, ProcessTarget, Target
from modelops_servicekit.inbox import Inbox
from modelops_servicekit.peers import RegistryModels
from modelops_servicekit.runtime import Runtime, Wiring, create_service_app


def build_targets(settings: DeployerSettings) -> dict[str, Target]:
    process = ProcessTarget(Path(settings.state_dir), settings.host_cpus, settings.host_memory_mb)
    return {"process": process, "docker": DockerTarget()}


async def wire(runtime: Runtime, app: FastAPI) -> Wiring:
    settings = runtime.settings
    assert isinstance(settings, DeployerSettings)
    repos = Repositories(runtime.db)
    await repos.ensure_indexes()
    inbox = Inbox(runtime.db)
    await inbox.ensure_indexes()
    registry, gateway = RegistryClient(settings.registry_url), GatewayClient(settings.gateway_url)
    targets = build_targets(settings)

    def kick_relay() -> None:
        if runtime.relay is not None:
            runtime.relay.kick()

    async def rollouts_and_scaling() -> None:
        await rollout.start_pending(repos, gateway)
        await shadowing.mirror_pending(repos)
        await rollout.advance_rollouts(repos, gateway)
        up, down = settings.autoscale_up_cooldown_s, settings.autoscale_down_cooldown_s
        await autoscale(repos, gateway, up, down)

    reconciler = Reconciler(repos, targets, settings, kick_relay, rollouts_and_scaling)

    def kick() -> None:
        kick_relay()
        reconciler.kick()

    models = RegistryModels(settings.registry_url)
    folders = ModelFolders(Path(settings.state_dir) / "models", models)
    app.state.deps = Deps(settings, repos, inbox, registry, gateway, targets, kick, folders)
    app.state.reconciler = reconciler
    reconciler.start()
    return Wiring(router=subscribers.build_router(runtime, app.state.deps), outbox=repos.outboxes)


def create_app(settings: DeployerSettings) -> FastAPI:
    """The deployer's ASGI app."""
    description = str(modelops_deployer.__doc__)
    return create_service_app(settings, wire=wire, routers=[api.router], description=description)

"""The deployer's adapters, built once in the composition root."""

from collections.abc import Callable
from dataclasses import dataclass

from modelops_deployer.model_folders import ModelFolders
from modelops_deployer.peers import GatewayClient, RegistryClient
from modelops_deployer.repository import Repositories
from modelops_deployer.settings import DeployerSettings
from modelops_deployer.targets import Target
from modelops_servicekit.inbox import Inbox


@dataclass
class Deps:
    """Everything handlers need, passed in (never imported)."""

    settings: DeployerSettings
    repos: Repositories
    inbox: Inbox
    registry: RegistryClient
    gateway: GatewayClient
    targets: dict[str, Target]
    kick: Callable[[], None]
    folders: ModelFolders

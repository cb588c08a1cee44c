"""What the deployer asks of the outside world (implemented by HTTP clients in peers.py)."""

from pathlib import Path
from typing import Any, Protocol


class ModelResolver(Protocol):
    """Resolves `latest` or `@alias` to a version number (the registry)."""

    async def resolve(self, model_name: str, selector: str) -> int: ...


class GatewayStats(Protocol):
    """The gateway's cumulative per-deployment stats and live load."""

    async def stats(self) -> dict[str, Any]: ...


class ModelSource(Protocol):
    """A model version's files (the registry)."""

    async def fetch(self, name: str, version: int, folder: Path) -> dict[str, Any]:
        """Every file of the version into `folder`, digests checked; the version's description
        (its `files` manifest included)."""

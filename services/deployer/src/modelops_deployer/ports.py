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
    """A model version's files (the registry): their manifest, and each file's bytes."""

    async def files(self, model_name: str, version: int) -> list[dict[str, Any]]: ...

    async def fetch(
        self, model_name: str, version: int, entry: dict[str, Any], dest: Path
    ) -> None: ...

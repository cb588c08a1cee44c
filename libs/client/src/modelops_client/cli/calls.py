"""How CLI commands call the SDK: a refused request is one line on stderr and exit code 1."""

from collections.abc import Callable
from typing import Protocol, TypeVar

import typer
from rich.console import Console

from modelops_client.http import ModelOpsClientError


class Closeable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=Closeable)
T = TypeVar("T")
_err = Console(stderr=True)


def call(client: C, action: Callable[[C], T]) -> T:
    """Run one action with a client, close it, and turn a refusal into a clean exit."""
    try:
        return action(client)
    except ModelOpsClientError as exc:
        _err.print(f"error: {exc.message}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    finally:
        client.close()

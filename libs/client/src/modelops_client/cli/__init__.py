"""The `modelops` command line: one typer app, a sub-command group per resource."""

import typer

from modelops_client.cli import platform

app = typer.Typer(
    name="modelops",
    help="Manage machine-learning models through their whole life.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
platform.register(app)


def main() -> None:
    app()

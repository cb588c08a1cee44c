"""`modelops up | down | status`: the whole platform on this machine."""

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from modelops_client.local import LocalPlatform, LocalPlatformError

console = Console(stderr=True)


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def up(
    services_only: bool = typer.Option(False, help="Assume the stack runs; start services."),
) -> None:
    """Start NATS, FerretDB, MinIO and Docker (infra/local.sh), then every service."""
    try:
        platform = LocalPlatform()
        if not services_only:
            platform.stack("up", on_line=lambda line: console.print(f"[dim]{line}[/dim]"))
        env = platform.stack_env()
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("starting services", total=len(platform.services))
            for service in platform.services:
                platform.start(service, env)
            for service in platform.services:
                progress.update(task, description=f"waiting for {service.name}")
                platform.wait_ready(service)
                progress.advance(task)
    except LocalPlatformError as exc:
        _fail(str(exc))
    status()


def down(
    stack: bool = typer.Option(False, "--stack", help="Also stop what infra/local.sh started."),
) -> None:
    """Stop every service (gracefully), and with --stack the local servers too."""
    try:
        platform = LocalPlatform()
        for service in platform.services:
            if platform.stop(service):
                console.print(f"stopped {service.name}")
        if stack:
            platform.stack("down", on_line=console.print)
    except LocalPlatformError as exc:
        _fail(str(exc))


def status() -> None:
    """Show each service: its URL, its process and whether it is ready."""
    try:
        platform = LocalPlatform()
    except LocalPlatformError as exc:
        _fail(str(exc))
        return
    table = Table(title="modelops services")
    for column in ("service", "url", "pid", "ready"):
        table.add_column(column)
    all_ready = True
    for service, pid, ready in platform.statuses():
        all_ready &= ready
        mark = "[green]ready[/green]" if ready else "[red]not ready[/red]"
        table.add_row(service.name, service.url, str(pid or "-"), mark)
    Console().print(table)
    if not all_ready:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(up)
    app.command()(down)
    app.command()(status)

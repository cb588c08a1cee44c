"""`modelops deployment create|update|logs|delete`, with a live state display."""

from typing import Annotated, Any

import typer
from rich.console import Console

from modelops_client.cli.endpoint import _run
from modelops_client.deployer import DeployerClient

app = typer.Typer(help="Deployments: a model version behind an endpoint, with replicas and limits.")
err, out = Console(stderr=True), Console()


def follow(client: DeployerClient, name: str, timeout_s: float) -> dict[str, Any]:
    """Show each state change until Healthy, Failed or Unschedulable."""

    def show(doc: dict[str, Any]) -> None:
        ready = sum(1 for r in doc.get("replicas", []) if r.get("ready"))
        reason = f" ({doc['reason']})" if doc.get("reason") else ""
        err.print(f"{name}: {doc.get('state') or 'Pending'} {ready}/{doc['desired']} ready{reason}")

    with err.status(f"waiting for {name}"):
        doc = client.wait(name, timeout_s=timeout_s, on_change=show)
    if doc["state"] != "Healthy":
        err.print(doc.get("log_tail", ""), markup=False, highlight=False)
        raise typer.Exit(1)
    return doc


@app.command()
def create(
    name: str,
    endpoint: Annotated[str, typer.Option()],
    model: Annotated[str | None, typer.Option(help="name@alias, name:3 or name")] = None,
    model_dir: Annotated[str | None, typer.Option(help="process target: model folder")] = None,
    image: Annotated[str | None, typer.Option()] = None,
    target: Annotated[str, typer.Option(help="process, docker or kubernetes")] = "process",
    cpu: float = 0.5,
    memory_mb: int = 512,
    replicas_min: int = 1,
    replicas_max: int = 0,
    max_concurrency: int = 4,
    max_queue_wait_s: float = 0.5,
    request_timeout_s: float = 60.0,
    data_collection: bool = False,
    sample_rate: float = 1.0,
    wait: bool = True,
    timeout_s: float = 300.0,
) -> None:
    """Create a deployment and watch it become Healthy."""
    spec = {k: v for k, v in locals().items() if k not in ("name", "endpoint", "wait", "timeout_s")}
    spec = {k: v for k, v in spec.items() if v is not None}
    _run(lambda c: c.create_deployment(name, endpoint, **spec))
    if wait:
        _run(lambda c: follow(c, name, timeout_s))


@app.command()
def update(
    name: str,
    model: Annotated[str | None, typer.Option()] = None,
    model_dir: Annotated[str | None, typer.Option()] = None,
    image: Annotated[str | None, typer.Option()] = None,
    replicas_min: Annotated[int | None, typer.Option()] = None,
    replicas_max: Annotated[int | None, typer.Option()] = None,
    max_concurrency: Annotated[int | None, typer.Option()] = None,
    wait: bool = True,
    timeout_s: float = 300.0,
) -> None:
    """Update in place (same URL and keys): new replicas start, traffic moves, old ones drain."""
    changes = {k: v for k, v in locals().items() if k not in ("name", "wait", "timeout_s")}
    _run(lambda c: c.update_deployment(name, **{k: v for k, v in changes.items() if v is not None}))
    if wait:
        _run(lambda c: follow(c, name, timeout_s))


@app.command()
def logs(name: str, lines: int = 100) -> None:
    """The tail of each replica's log (and of the last failure)."""
    doc = _run(lambda c: c.logs(name, lines))
    for replica, text in doc["replicas"].items():
        out.rule(replica)
        out.print(text, markup=False, highlight=False)
    if doc.get("last_failure"):
        out.rule("last failure")
        out.print(doc["last_failure"], markup=False, highlight=False)


@app.command()
def delete(name: str) -> None:
    """Delete a deployment that takes no traffic."""
    _run(lambda c: c.delete_deployment(name))
    out.print(f"deleted {name}")


def register_group(root: typer.Typer) -> None:
    root.add_typer(app, name="deployment")

"""`modelops monitor create|run|list|show|report`: drift and performance monitors."""

import json
from pathlib import Path

import typer

from modelops_client.http import ModelOpsClientError
from modelops_client.monitor import MonitorClient

app = typer.Typer(help="Drift, data quality and performance monitors.", no_args_is_help=True)


def _print(obj: object) -> None:
    typer.echo(json.dumps(obj, indent=2, default=str))


def _call(fn, *args, **kwargs) -> object:  # type: ignore[no-untyped-def]  # thin error wrapper
    try:
        return fn(*args, **kwargs)
    except ModelOpsClientError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc


@app.command()
def create(spec: Path = typer.Argument(..., help="JSON file: the monitor (see /docs)")) -> None:
    """Create a monitor from a JSON spec."""
    _print(_call(MonitorClient().create, json.loads(spec.read_text())))


@app.command("list")
def list_(endpoint: str | None = typer.Option(None, help="Only this endpoint's")) -> None:
    """List monitors."""
    _print(_call(MonitorClient().list_monitors, endpoint))


@app.command()
def show(monitor_id: str, runs: bool = typer.Option(False, help="Also its runs")) -> None:
    """Show a monitor (and its runs)."""
    client = MonitorClient()
    _print(_call(client.show, monitor_id))
    if runs:
        _print(_call(client.runs, monitor_id))


@app.command()
def run(
    monitor_id: str,
    data: Path | None = typer.Option(None, help="A Parquet file to check"),
    start: str | None = typer.Option(None, help="Window start (ISO 8601)"),
    end: str | None = typer.Option(None, help="Window end (ISO 8601)"),
) -> None:
    """Run a monitor now."""
    window = (start, end) if start and end else None
    _print(_call(MonitorClient().run, monitor_id, data, window))


@app.command()
def report(
    monitor_id: str,
    run_id: str,
    kind: str = typer.Option("report", help="report | evidently | result"),
    out: Path = typer.Option(Path("report.html"), help="Where to write it"),
) -> None:
    """Download a run's report."""
    content = _call(MonitorClient().report, monitor_id, run_id, kind)
    assert isinstance(content, bytes)
    out.write_bytes(content)
    typer.echo(str(out))


def register_group(root: typer.Typer) -> None:
    root.add_typer(app, name="monitor")

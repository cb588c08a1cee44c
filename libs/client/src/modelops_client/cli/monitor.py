"""`modelops monitor create|run|list|show|report|plot`: drift and performance monitors."""

import json
from pathlib import Path

import typer

from modelops_client.cli.calls import call
from modelops_client.monitor import MonitorClient

app = typer.Typer(help="Drift, data quality and performance monitors.", no_args_is_help=True)


def _print(obj: object) -> None:
    typer.echo(json.dumps(obj, indent=2, default=str))


@app.command()
def create(
    spec: Path = typer.Argument(..., help="JSON file: the monitor (see /docs)"),
    cron: str | None = typer.Option(
        None, help="Run on this cron schedule, UTC (e.g. '*/15 * * * *'; 6th field: seconds)"
    ),
    every: int | None = typer.Option(None, help="Run every N seconds (>= 10)"),
) -> None:
    """Create a monitor from a JSON spec (a schedule given here replaces the spec's)."""
    body = json.loads(spec.read_text())
    if cron or every:
        body.pop("schedule_cron", None)
        body.pop("schedule_interval_s", None)
    if cron:
        body["schedule_cron"] = cron
    if every:
        body["schedule_interval_s"] = every
    _print(call(MonitorClient(), lambda c: c.create(body)))


@app.command("list")
def list_(endpoint: str | None = typer.Option(None, help="Only this endpoint's")) -> None:
    """List monitors."""
    _print(call(MonitorClient(), lambda c: c.list_monitors(endpoint)))


@app.command()
def show(monitor_id: str, runs: bool = typer.Option(False, help="Also its runs")) -> None:
    """Show a monitor (and its runs)."""
    _print(call(MonitorClient(), lambda c: c.show(monitor_id)))
    if runs:
        _print(call(MonitorClient(), lambda c: c.runs(monitor_id)))


@app.command()
def run(
    monitor_id: str,
    data: Path | None = typer.Option(None, help="A Parquet file to check"),
    start: str | None = typer.Option(None, help="Window start (ISO 8601)"),
    end: str | None = typer.Option(None, help="Window end (ISO 8601)"),
) -> None:
    """Run a monitor now."""
    window = (start, end) if start and end else None
    _print(call(MonitorClient(), lambda c: c.run(monitor_id, data, window)))


@app.command()
def report(
    monitor_id: str,
    run_id: str,
    kind: str = typer.Option("report", help="report | evidently | result"),
    out: Path = typer.Option(Path("report.html"), help="Where to write it"),
) -> None:
    """Download a run's report."""
    out.write_bytes(call(MonitorClient(), lambda c: c.report(monitor_id, run_id, kind)))
    typer.echo(str(out))


@app.command()
def plot(
    monitor_id: str,
    feature: str,
    run_id: str | None = typer.Option(
        None, "--run", help="This run's baseline vs current distribution (default: score over time)"
    ),
    fmt: str = typer.Option("html", "--format", help="html | json (the plotly figure)"),
    out: Path | None = typer.Option(None, help="Where to write it (default: plot.html|json)"),
) -> None:
    """Download a feature's plot: its distribution in a run, or its drift score over time."""
    content = call(MonitorClient(), lambda c: c.plot(monitor_id, feature, run_id, fmt))
    target = out or Path(f"plot.{fmt}")
    target.write_bytes(content)
    typer.echo(str(target))


def register_group(root: typer.Typer) -> None:
    root.add_typer(app, name="monitor")

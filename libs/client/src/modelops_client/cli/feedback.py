"""`modelops feedback upload` and `modelops collected export`: labels in, collected data out."""

import json
from pathlib import Path

import typer

from modelops_client.collector import CollectorClient
from modelops_client.http import ModelOpsClientError

feedback_app = typer.Typer(help="Ground-truth labels for logged predictions.", no_args_is_help=True)
collected_app = typer.Typer(help="Collected production inputs and outputs.", no_args_is_help=True)


def _fail(exc: ModelOpsClientError) -> typer.Exit:
    typer.echo(f"error: {exc.message}", err=True)
    return typer.Exit(1)


@feedback_app.command()
def upload(
    file: Path = typer.Argument(..., exists=True, help="CSV (request_id,label) or JSON rows"),
    endpoint: str | None = typer.Option(None, help="The endpoint the requests went to"),
) -> None:
    """Upload labels by request id (idempotent: uploading again changes nothing)."""
    try:
        result = CollectorClient().upload_feedback(file, endpoint)
    except ModelOpsClientError as exc:
        raise _fail(exc) from exc
    typer.echo(json.dumps(result, indent=2))


@collected_app.command()
def export(
    endpoint: str = typer.Option(..., help="Endpoint name"),
    out: Path = typer.Option(..., help="Output file (.parquet, or .json / .jsonl for JSON rows)"),
    start: str | None = typer.Option(None, help="Window start (ISO 8601; default end - 1 h)"),
    end: str | None = typer.Option(None, help="Window end (ISO 8601; default now)"),
    model_version: str | None = typer.Option(None, help="Only this model version"),
) -> None:
    """Export a window of collected predictions, joined with their labels."""
    client = CollectorClient()
    try:
        if out.suffix in (".json", ".jsonl"):
            rows = client.rows(endpoint, start, end, model_version)
            out.write_text("".join(json.dumps(r, default=str) + "\n" for r in rows))
            typer.echo(f"{len(rows)} rows -> {out}")
            return
        size = client.export_parquet(endpoint, out, start, end, model_version)
    except ModelOpsClientError as exc:
        raise _fail(exc) from exc
    typer.echo(f"{size} bytes -> {out}" if size else "no rows in this window")


def register_group(app: typer.Typer) -> None:
    """Add `feedback` and `collected` to the root app."""
    app.add_typer(feedback_app, name="feedback")
    app.add_typer(collected_app, name="collected")

"""`modelops dataset register|list|show`."""

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from modelops_client.cli.model import OutputOpt, TagOpt, call, emit, out, parse_pairs, progress_bars
from modelops_contracts.api.registry import DatasetVersionInfo

app = typer.Typer(help="Register and inspect datasets (CSV or Parquet).", no_args_is_help=True)


def show_dataset(info: DatasetVersionInfo) -> None:
    table = Table(title=f"{info.dataset_name}:{info.version} ({info.format})")
    for column in ("column", "dtype", "nulls", "min", "max", "mean", "std", "top values"):
        table.add_column(column)
    columns: list[Any] = list(info.profile.get("columns") or [])  # type: ignore[arg-type]  # JSON list
    for c in columns:
        top = ", ".join(f"{t['value']}({t['count']})" for t in c.get("top_values", []))
        stats = [_fmt(c.get(k)) for k in ("min", "max", "mean", "std")]
        table.add_row(c["name"], c["dtype"], str(c["null_count"]), *stats, top)
    out.print(table)
    rows = info.profile.get("row_count", info.profile.get("skipped", "?"))
    out.print(f"rows: {rows}   files: {len(info.files)}   digest: {info.content_digest}")


def _fmt(value: Any) -> str:
    return "" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


@app.command()
def register(
    name: str,
    path: Path,
    tag: TagOpt = None,
    description: str = "",
    output: OutputOpt = "table",
) -> None:
    """Upload a CSV/Parquet file or folder as the next version of dataset NAME (profiled)."""
    tags = parse_pairs(tag)
    with progress_bars(output != "json") as bars:
        info = call(
            lambda client: client.register_dataset(
                name, path, description=description, tags=tags, progress=bars
            )
        )
    emit(info, output, lambda: show_dataset(info))


@app.command("list")
def list_(
    name: Annotated[str | None, typer.Argument(help="only this dataset")] = None,
    tag: TagOpt = None,
    page: int = 1,
    limit: int = 20,
    output: OutputOpt = "table",
) -> None:
    """Dataset versions, newest first."""
    tags = parse_pairs(tag)
    result = call(lambda client: client.list_datasets(name, tags=tags, page=page, limit=limit))

    def table() -> None:
        grid = Table(title=f"dataset versions (page {result.page}, total {result.total})")
        for column in ("dataset", "version", "format", "rows", "columns", "created"):
            grid.add_column(column)
        for d in result.items:
            cols: list[Any] = list(d.profile.get("columns") or [])  # type: ignore[arg-type]  # JSON list
            created = f"{d.created_at:%Y-%m-%d %H:%M} {d.created_by}"
            rows = str(d.profile.get("row_count", "?"))
            grid.add_row(d.dataset_name, str(d.version), d.format, rows, str(len(cols)), created)
        out.print(grid)

    emit(result, output, table)


@app.command()
def show(
    ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME:latest")],
    output: OutputOpt = "table",
) -> None:
    """One dataset version with its profile."""
    info = call(lambda client: client.get_dataset(ref))
    emit(info, output, lambda: show_dataset(info))


def register_group(root: typer.Typer) -> None:
    root.add_typer(app, name="dataset")


__all__ = ["app", "register_group"]

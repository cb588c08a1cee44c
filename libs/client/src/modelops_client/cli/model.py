"""`modelops model register|list|show|download|tag|alias|archive|delete`."""

import json
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from modelops_client.http import ModelOpsClientError
from modelops_client.registry import RegistryClient
from modelops_contracts.api.registry import ModelVersionInfo, UpdateModelVersion
from modelops_contracts.events import Lineage
from modelops_contracts.types import Framework

app = typer.Typer(help="Register, find, download and change models.", no_args_is_help=True)
err = Console(stderr=True)
out = Console()
T = TypeVar("T")

OutputOpt = Annotated[str, typer.Option("--output", help="table or json")]
TagOpt = Annotated[list[str] | None, typer.Option("--tag", help="key=value (repeatable)")]


def fail(message: str) -> None:
    """One line on stderr, exit code 1."""
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def call(action: Callable[[RegistryClient], T]) -> T:
    """Run an SDK call; a refusal becomes one line on stderr and exit code 1."""
    try:
        with RegistryClient() as client:
            return action(client)
    except ModelOpsClientError as exc:
        fail(exc.message)
        raise AssertionError("unreachable") from exc


def parse_pairs(pairs: list[str] | None, what: str = "tag") -> dict[str, str]:
    result = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"invalid {what} {pair!r}: expected key=value")
        result[key] = value
    return result


class RichProgress:
    """The SDK's Progress as rich bars: one per file."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: TaskID | None = None
        self._total = 0

    def start(self, label: str, total: int) -> None:
        self._task, self._total = self._progress.add_task(label, total=total), total

    def advance(self, n: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, n)

    def finish(self) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=self._total)


@contextmanager
def progress_bars(enabled: bool) -> Iterator[RichProgress | None]:
    """Transfer bars on stderr (none with --output json)."""
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        yield RichProgress(progress)


def emit(value: BaseModel | dict[str, Any], output: str, table: Callable[[], None]) -> None:
    """JSON for scripts, a table for people."""
    if output == "json":
        data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
        print(json.dumps(data, indent=2, default=str))
    else:
        table()


def git_lineage(cwd: Path) -> Lineage:
    """Repository, branch and commit of the git checkout around cwd (empty outside one)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() or None if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return Lineage()
    repository = git("config", "--get", "remote.origin.url") or git("rev-parse", "--show-toplevel")
    return Lineage(
        git_repository=repository,
        git_branch=git("rev-parse", "--abbrev-ref", "HEAD"),
        git_commit=commit,
    )


def show_version(info: ModelVersionInfo) -> None:
    table = Table(title=f"{info.model_name}:{info.version}", show_header=False)
    rows = {
        "framework": f"{info.framework.value} {info.framework_version or ''}".strip(),
        "description": info.description,
        "aliases": ", ".join(info.aliases),
        "tags": ", ".join(f"{k}={v}" for k, v in info.tags.items()),
        "properties": ", ".join(f"{k}={v}" for k, v in info.properties.items()),
        "files": f"{len(info.files)} ({info.size_bytes} bytes)",
        "content digest": info.content_digest,
        "trusted by": info.trusted_by or "",
        "lineage": ", ".join(f"{k}={v}" for k, v in info.lineage.model_dump().items() if v),
        "created": f"{info.created_at:%Y-%m-%d %H:%M:%S} by {info.created_by}",
        "archived": "yes" if info.archived else "",
    }
    for key, value in rows.items():
        if value:
            table.add_row(key, str(value))
    out.print(table)


@app.command()
def register(
    name: str,
    path: Path,
    tag: TagOpt = None,
    framework: Annotated[Framework | None, typer.Option(help="detected when omitted")] = None,
    description: str = "",
    trusted: Annotated[bool, typer.Option(help="vouch for pickle-based files")] = False,
    alias: Annotated[str | None, typer.Option(help="point this alias at the new version")] = None,
    output: OutputOpt = "table",
) -> None:
    """Upload a model file or folder and register it as the next version of NAME."""
    tags, lineage = parse_pairs(tag), git_lineage(Path.cwd())
    with progress_bars(output != "json") as bars:
        info = call(
            lambda client: client.register_model(
                name,
                path,
                framework=framework,
                description=description,
                tags=tags,
                lineage=lineage,
                trusted=trusted,
                alias=alias,
                progress=bars,
            )
        )
    emit(info, output, lambda: show_version(info))


@app.command("list")
def list_(
    name: Annotated[str | None, typer.Argument(help="only this model")] = None,
    tag: TagOpt = None,
    framework: str | None = None,
    alias: str | None = None,
    archived: Annotated[bool, typer.Option(help="include archived versions")] = False,
    page: int = 1,
    limit: int = 20,
    output: OutputOpt = "table",
) -> None:
    """Versions matching every filter, newest first."""
    tags = parse_pairs(tag)
    result = call(
        lambda client: client.list_models(
            name,
            tags=tags,
            framework=framework,
            alias=alias,
            archived=archived,
            page=page,
            limit=limit,
        )
    )

    def table() -> None:
        shown = f"page {result.page}, {len(result.items)} of {result.total}"
        grid = Table(title=f"model versions ({shown})")
        for column in ("model", "version", "framework", "aliases", "tags", "created"):
            grid.add_column(column)
        for v in result.items:
            tags_text = " ".join(f"{k}={val}" for k, val in v.tags.items())
            created = f"{v.created_at:%Y-%m-%d %H:%M} {v.created_by}"
            grid.add_row(
                v.model_name,
                str(v.version),
                v.framework.value,
                ",".join(v.aliases),
                tags_text,
                created,
            )
        out.print(grid)

    emit(result, output, table)


@app.command()
def show(
    ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION, NAME:latest or NAME@ALIAS")],
    output: OutputOpt = "table",
) -> None:
    """One version with its metadata, files and lineage."""
    info = call(lambda client: client.get_model(ref))
    emit(info, output, lambda: show_version(info))


@app.command()
def download(
    ref: Annotated[str, typer.Argument(help="NAME:VERSION or NAME@ALIAS")],
    out_dir: Annotated[Path, typer.Option("-o", "--dir", help="destination folder")] = Path("."),
    as_zip: Annotated[bool, typer.Option("--zip", help="one zip instead of a folder")] = False,
    output: OutputOpt = "table",
) -> None:
    """Download every file of a version, each verified against its digest in the manifest."""
    with progress_bars(output != "json") as bars:
        target = call(
            lambda client: client.download_model(ref, out_dir, as_zip=as_zip, progress=bars)
        )
    emit({"ref": ref, "path": str(target)}, output, lambda: out.print(f"downloaded to {target}"))


def _update(ref: str, change: UpdateModelVersion, output: str) -> None:
    info = call(lambda client: client.update_model(ref, change))
    emit(info, output, lambda: show_version(info))


@app.command()
def tag(
    ref: Annotated[str, typer.Argument(help="NAME:VERSION or NAME@ALIAS")],
    pairs: Annotated[list[str] | None, typer.Argument(help="key=value to set")] = None,
    remove: Annotated[list[str] | None, typer.Option("--remove", help="tag key to remove")] = None,
    prop: Annotated[
        list[str] | None, typer.Option("--property", help="key=value, add-only")
    ] = None,
    output: OutputOpt = "table",
) -> None:
    """Set or remove tags (mutable) and add properties (add-only) on a version."""
    change = UpdateModelVersion(
        set_tags=parse_pairs(pairs),
        remove_tags=remove or [],
        add_properties=parse_pairs(prop, "property"),
    )
    _update(ref, change, output)


@app.command()
def alias(
    name: str,
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS")],
    version: str,
    output: OutputOpt = "table",
) -> None:
    """Point ALIAS of model NAME at VERSION (a number, latest, or @other-alias)."""
    result = call(lambda client: client.set_alias(name, alias_name, version))
    emit(result, output, lambda: out.print(f"{name}@{alias_name} -> {result['version']}"))


@app.command()
def archive(
    ref: Annotated[str, typer.Argument(help="NAME:VERSION")],
    undo: Annotated[bool, typer.Option("--undo", help="un-archive")] = False,
    output: OutputOpt = "table",
) -> None:
    """Hide a version from default listings (it stays downloadable by number)."""
    _update(ref, UpdateModelVersion(archived=not undo), output)


@app.command()
def delete(
    ref: Annotated[str, typer.Argument(help="NAME:VERSION")],
    output: OutputOpt = "table",
) -> None:
    """Delete a version (refused while a deployment uses it); its number is never reused."""
    result = call(lambda client: client.delete_model(ref))
    emit(result, output, lambda: out.print(f"deleted {result['model_name']}:{result['version']}"))


def register_group(root: typer.Typer) -> None:
    root.add_typer(app, name="model")

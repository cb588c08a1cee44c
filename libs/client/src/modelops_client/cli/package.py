"""`modelops package create|build|logs|list|serve` and `modelops model convert|profile`."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from modelops_client.builder import BuilderClient, serve_locally
from modelops_client.http import ModelOpsClientError

app = typer.Typer(help="Package model versions into images and build them.", no_args_is_help=True)
models = typer.Typer(help="Convert models to ONNX and profile their images.", no_args_is_help=True)
err = Console(stderr=True)
out = Console()


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def _split(ref: str) -> tuple[str, str]:
    name, _, version = ref.partition(":")
    return name, version or "latest"


@app.command()
def create(
    model: Annotated[str, typer.Argument(help="NAME[:VERSION|:@alias]")],
    entry_script: Annotated[
        Path | None, typer.Option(help="score.py with init() and run(data)")
    ] = None,
    requirement: Annotated[list[str] | None, typer.Option("--requirement", "-r")] = None,
    schema: Annotated[
        Path | None, typer.Option(help="JSON file {inputs: [...], outputs: [...]}")
    ] = None,
    sample: Annotated[Path | None, typer.Option(help="JSON file with a sample input")] = None,
    build: Annotated[bool, typer.Option(help="Build right away and show the log")] = False,
) -> None:
    """Create a package: model version + entry script (none for ONNX) + environment."""
    name, version = _split(model)
    fields: dict[str, Any] = {"requirements": requirement or []}
    if entry_script:
        fields["entry_script"] = entry_script.read_text()
    if schema:
        fields["schema"] = json.loads(schema.read_text())
    if sample:
        fields["sample_input"] = json.loads(sample.read_text())
    try:
        pkg = BuilderClient().create_package(name, version, **fields)
    except ModelOpsClientError as exc:
        _fail(exc.message)
    out.print(f"package {pkg['id']} ({'created' if pkg['created'] else 'exists'})")
    if build:
        _follow_build(pkg["id"])


def _follow_build(package_id: str) -> None:
    status = ""
    try:
        for line in BuilderClient().build_and_follow(package_id):
            out.print(line, markup=False, highlight=False)
            status = line if line.startswith("status:") else status
    except ModelOpsClientError as exc:
        _fail(exc.message)
    if "built" not in status:
        raise typer.Exit(1)


@app.command("build")
def build_cmd(package_id: str) -> None:
    """Build (or reuse) a package's image, showing the log live."""
    _follow_build(package_id)


@app.command()
def logs(image_id: Annotated[str, typer.Argument(help="image id (manifest digest)")]) -> None:
    """Show a build's log (live while it runs)."""
    try:
        for line in BuilderClient().logs(image_id):
            out.print(line, markup=False, highlight=False)
    except ModelOpsClientError as exc:
        _fail(exc.message)


@app.command("list")
def list_cmd(model: Annotated[str | None, typer.Option()] = None) -> None:
    """Packages, newest first, with their image status."""
    table = Table("package", "model", "version", "env digest", "created")
    for p in BuilderClient().list_packages(model):
        table.add_row(
            p["id"], p["model_name"], str(p["version"]), p["env_digest"][:12], str(p["created_at"])
        )
    out.print(table)


@app.command()
def serve(model_dir: Path, port: Annotated[int, typer.Option()] = 5001) -> None:
    """Local debug mode: serve a model folder on a port without Docker (Ctrl-C stops)."""
    proc = serve_locally(model_dir, port)
    try:
        proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()


@models.command()
def convert(
    model: Annotated[str, typer.Argument(help="NAME[:VERSION]")],
    sample: Annotated[Path | None, typer.Option(help="JSON rows to check on")] = None,
    tolerance: Annotated[float, typer.Option()] = 1e-4,
) -> None:
    """Convert a sklearn/XGBoost/LightGBM version to ONNX (a new, verified version)."""
    name, version = _split(model)
    rows = json.loads(sample.read_text()) if sample else None
    try:
        result = BuilderClient().convert(name, version, rows, tolerance)
    except ModelOpsClientError as exc:
        _fail(exc.message)
    check = result["check"]
    out.print(
        f"{name}:{result['source_version']} -> {name}:{result['target_version']} (onnx); "
        f"max |diff| {check['max_abs_diff']:.3g} <= {tolerance:g} on {check['rows_checked']} rows"
    )


@models.command()
def profile(
    package_id: str,
    cpus: Annotated[float, typer.Option()] = 1.0,
    memory_mb: Annotated[int, typer.Option()] = 1024,
    latency_target_ms: Annotated[float, typer.Option()] = 50.0,
    seconds: Annotated[float, typer.Option(help="per load level")] = 5.0,
) -> None:
    """Load-test a package's image and recommend CPU and memory for a latency target."""
    try:
        doc = BuilderClient().profile(
            package_id,
            cpus=cpus,
            memory_mb=memory_mb,
            latency_target_ms=latency_target_ms,
            seconds_per_level=seconds,
        )
    except ModelOpsClientError as exc:
        _fail(exc.message)
    table = Table("concurrency", "req/s", "p50 ms", "p95 ms", "p99 ms", "cpu cores", "peak MB")
    for lv in doc["levels"]:
        table.add_row(
            *(
                str(lv[k])
                for k in (
                    "concurrency",
                    "rps",
                    "p50_ms",
                    "p95_ms",
                    "p99_ms",
                    "cpu_cores",
                    "peak_memory_mb",
                )
            )
        )
    out.print(table)
    rec = doc["recommendation"]
    out.print(
        f"recommended: {rec['cpu']} CPU, {rec['memory_mb']} MB "
        f"(target p99 <= {latency_target_ms:g} ms)"
    )


def register_group(root: typer.Typer) -> None:
    """`modelops package ...` on the root app, plus `model convert|profile` on the `model`
    group when it is already registered (call after it)."""
    root.add_typer(app, name="package")
    for group in root.registered_groups:
        if group.name == "model" and group.typer_instance is not None:
            attach_model_commands(group.typer_instance)


def attach_model_commands(model_app: typer.Typer) -> None:
    """Add `convert` and `profile` to the registry's `modelops model` group."""
    model_app.command("convert")(convert)
    model_app.command("profile")(profile)

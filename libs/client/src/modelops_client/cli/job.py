"""`modelops job create|run|list|show|cancel` and `modelops run show|logs|metrics|cancel`."""

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from modelops_client.cli.calls import call
from modelops_client.cli.model import fail, parse_pairs
from modelops_client.jobs import JobsClient

app = typer.Typer(help="Jobs: training commands run as tracked runs.")
runs = typer.Typer(help="Runs of jobs: state, logs, metrics.")
err, out = Console(stderr=True), Console()


def _run(action: Any) -> Any:
    return call(JobsClient(), action)


@app.command()
def create(
    name: str,
    command: Annotated[str, typer.Option(help='e.g. "python train.py --epochs 3"')],
    code: Annotated[Path | None, typer.Option(help="folder uploaded as the code snapshot")] = None,
    param: Annotated[list[str] | None, typer.Option(help="name=value (repeat)")] = None,
    param_args: bool = typer.Option(False, help="also pass parameters as --name value"),
    timeout: Annotated[float, typer.Option(help="seconds before the run is killed")] = 3600.0,
    output: Annotated[list[str] | None, typer.Option(help="model_name=path (repeat)")] = None,
    framework: Annotated[str, typer.Option(help="framework of the outputs")] = "custom",
    on: Annotated[
        list[str] | None, typer.Option(help="start a run on this event, e.g. drift.detected")
    ] = None,
    filter_: Annotated[
        list[str] | None, typer.Option("--filter", help="field=value the event must carry")
    ] = None,
    cooldown: Annotated[int, typer.Option(help="seconds between triggered runs")] = 3600,
    cron: Annotated[str | None, typer.Option(help="cron schedule, in UTC")] = None,
    input_: Annotated[
        list[str] | None,
        typer.Option(
            "--input",
            help="name=dataset:NAME[:VERSION] or name=endpoint:NAME[@WINDOW_S] (repeat)",
        ),
    ] = None,
    requirement: Annotated[
        list[str] | None,
        typer.Option("--requirement", "-r", help="pip requirement, e.g. six==1.16.0 (repeat)"),
    ] = None,
    requirements_file: Annotated[
        Path | None, typer.Option(help="pip requirements, one a line (# comments)")
    ] = None,
    runtime: Annotated[
        str | None,
        typer.Option(help="process (default: a virtualenv if requirements) or container"),
    ] = None,
    cpus: Annotated[str | None, typer.Option(help="CPU limit, e.g. 1.5 (container runs)")] = None,
    memory_mb: Annotated[
        str | None, typer.Option(help="memory limit in MiB (container runs)")
    ] = None,
) -> None:
    """Define a job: its command, code folder, parameters, timeout, outputs, triggers and
    environment (pip requirements; a local process or a container, with resources)."""
    if code is not None and not code.is_dir():
        fail(f"{code} is not a folder")
    reqs = [*(requirement or []), *(_requirements_file(requirements_file) or [])]
    environment = _environment(reqs, runtime)
    resources = _resources(cpus, memory_mb)
    outputs = [
        {"model_name": model, "path": path, "framework": framework}
        for model, path in parse_pairs(output, "output").items()
    ]
    job = _run(
        lambda c: c.create_job(
            name,
            shlex.split(command),
            code=code,
            parameters=parse_pairs(param, "parameter"),
            param_args=param_args,
            timeout_s=timeout,
            outputs=outputs,
            triggers=_triggers(on, filter_, cooldown),
            schedule_cron=cron,
            inputs=[_input(name, spec) for name, spec in parse_pairs(input_, "input").items()],
            environment=environment,
            resources=resources,
        )
    )
    out.print(f"job {job['name']} (code {job.get('code_sha256') or 'none'})")


def _requirements_file(path: Path | None) -> list[str] | None:
    """Plain requirements, one a line; blank lines and comments skipped, pip options refused."""
    if path is None:
        return None
    if not path.is_file():
        fail(f"requirements file {path} not found")
    reqs = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-"):
            fail(f"{path}:{number}: only plain requirements, no pip options ({line!r})")
        if line:
            reqs.append(line)
    return reqs


def _environment(requirements: list[str], runtime: str | None) -> dict[str, Any] | None:
    """None (the service's Python) unless requirements or a runtime are given."""
    if runtime not in (None, "process", "container"):
        fail(f"--runtime must be process or container, not {runtime!r}")
    if not requirements and runtime is None:
        return None
    return {"requirements": requirements, "runtime": runtime or "process"}


def _resources(cpus: str | None, memory_mb: str | None) -> dict[str, Any] | None:
    """CPU and memory limits (the service refuses them for process runs)."""
    limits: dict[str, Any] = {}
    try:
        if cpus is not None:
            limits["cpus"] = float(cpus)
        if memory_mb is not None:
            limits["memory_mb"] = int(memory_mb)
    except ValueError:
        fail(f"--cpus takes a number and --memory-mb a whole number, not {cpus!r}/{memory_mb!r}")
    return limits or None


def _input(name: str, spec: str) -> dict[str, Any]:
    """`dataset:iris:3` / `dataset:iris` / `endpoint:churn@86400` as a job input."""
    kind, _, rest = spec.partition(":")
    if kind == "dataset" and rest:
        dataset, _, version = rest.partition(":")
        return {"name": name, "dataset": dataset, "version": version or "latest"}
    if kind == "endpoint" and rest:
        endpoint, _, window = rest.partition("@")
        if window and not window.isdigit():
            raise typer.BadParameter(f"window of input {name!r} must be seconds, not {window!r}")
        return {"name": name, "endpoint": endpoint} | ({"window_s": int(window)} if window else {})
    raise typer.BadParameter(f"input {name!r}: dataset:NAME[:VERSION] or endpoint:NAME[@SECONDS]")


def _triggers(events: list[str] | None, pairs: list[str] | None, cooldown: int) -> list[Any]:
    """One trigger per `--on` event, each with the `--filter` pairs and the cool-down."""
    filter_ = parse_pairs(pairs, "filter")
    return [{"event": e, "filter": filter_, "cooldown_s": cooldown} for e in events or []]


@app.command("run")
def run_job(
    name: str,
    param: Annotated[list[str] | None, typer.Option(help="name=value overrides (repeat)")] = None,
    follow: bool = typer.Option(False, "--follow", "-f", help="stream the log until it ends"),
) -> None:
    """Start a run of the job; with --follow, stream its log and exit 1 unless it completes."""
    run = _run(lambda c: c.start_run(name, parse_pairs(param, "parameter")))
    out.print(f"run {run['run_id']} {run['state']}")
    if not follow:
        return

    def write(data: bytes) -> None:
        sys.stdout.write(data.decode("utf-8", "replace"))
        sys.stdout.flush()

    ended = _run(lambda c: c.follow(run["run_id"], write))
    out.print(f"run {ended['run_id']} {ended['state']} {ended.get('reason') or ''}".rstrip())
    if ended["state"] != "completed":
        raise typer.Exit(1)


@app.command("list")
def list_() -> None:
    """Every job definition."""
    table = Table(title="jobs")
    for column in ("name", "command", "timeout", "outputs", "created by"):
        table.add_column(column)
    for j in _run(lambda c: c.list_jobs()):
        outputs = ",".join(f"{o['model_name']}={o['path']}" for o in j["outputs"])
        table.add_row(
            j["name"], shlex.join(j["command"]), f"{j['timeout_s']:g}s", outputs, j["created_by"]
        )
    out.print(table)


@app.command()
def show(name: str) -> None:
    """A job definition, and its latest runs."""
    out.print_json(json.dumps(_run(lambda c: c.get_job(name)), default=str))
    _print_runs(_run(lambda c: c.list_runs(job=name, limit=10)))


@app.command()
def cancel(run_id: str) -> None:
    """Cancel a queued or running run (its process group is terminated)."""
    run = _run(lambda c: c.cancel(run_id))
    out.print(f"run {run['run_id']}: cancel requested")


def _print_runs(items: list[dict[str, Any]]) -> None:
    table = Table(title="runs")
    for column in ("run", "job", "state", "created", "reason"):
        table.add_column(column)
    for r in items:
        table.add_row(
            r["run_id"], r["job_name"], r["state"], str(r["created_at"]), r.get("reason") or ""
        )
    out.print(table)


@runs.command("list")
def list_runs(job: Annotated[str | None, typer.Option()] = None, limit: int = 50) -> None:
    """Latest runs, optionally of one job."""
    _print_runs(_run(lambda c: c.list_runs(job=job, limit=limit)))


@runs.command("show")
def show_run(run_id: str) -> None:
    """A run: state, parameters, exit code, reason, metric summary, outputs."""
    out.print_json(json.dumps(_run(lambda c: c.get_run(run_id)), default=str))


@runs.command()
def logs(run_id: str) -> None:
    """The run's log (live while it runs)."""
    data, _, _ = _run(lambda c: c.logs(run_id))
    sys.stdout.write(data.decode("utf-8", "replace"))


@runs.command()
def metrics(
    run_id: str, output: Annotated[str, typer.Option(help="table or json")] = "table"
) -> None:
    """Every metric point the run logged."""
    result = _run(lambda c: c.metrics(run_id))
    if output == "json":
        out.print_json(json.dumps(result))
        return
    table = Table(title=f"metrics of run {run_id}")
    for column in ("name", "step", "value"):
        table.add_column(column)
    for p in result["points"]:
        table.add_row(p["name"], "" if p["step"] is None else str(p["step"]), f"{p['value']:g}")
    out.print(table)


@runs.command("cancel")
def cancel_run(run_id: str) -> None:
    """Cancel a queued or running run."""
    cancel(run_id)


def register_group(root: typer.Typer) -> None:
    root.add_typer(app, name="job")
    root.add_typer(runs, name="run")

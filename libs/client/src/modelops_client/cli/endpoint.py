"""`modelops endpoint create|show|keys|regenerate-keys|traffic|shadow|invoke|delete`."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from modelops_client.cli.calls import call
from modelops_client.deployer import DeployerClient
from modelops_client.gateway import GatewayClient

app = typer.Typer(help="Endpoints: a stable scoring URL with keys, traffic and mirror splits.")
err, out = Console(stderr=True), Console()


def _run(action: Any, client: Any = None) -> Any:
    return call(client or DeployerClient(), action)


def split(pairs: list[str] | None) -> dict[str, int]:
    """`blue=90 green=10` -> {"blue": 90, "green": 10}."""
    result = {}
    for pair in pairs or []:
        name, sep, percent = pair.partition("=")
        if not sep or not percent.isdigit():
            err.print(f"error: {pair!r} is not deployment=percent")
            raise typer.Exit(1)
        result[name] = int(percent)
    return result


def follow_rollout(steps: str | None, bake_s: float | None) -> dict[str, Any] | None:
    """`10,50,100` and 60 -> {"steps": [10, 50, 100], "bake_s": 60}; None when neither is given."""
    policy: dict[str, Any] = {}
    if steps is not None:
        parts = [p.strip() for p in steps.split(",")]
        if not all(p.isdigit() for p in parts):
            err.print(f"error: {steps!r} is not a comma-separated list of percentages")
            raise typer.Exit(1)
        policy["steps"] = [int(p) for p in parts]
    if bake_s is not None:
        policy["bake_s"] = bake_s
    return policy or None


@app.command()
def create(
    name: str,
    auth_mode: Annotated[str, typer.Option(help="key, or none for local use")] = "key",
    follow: Annotated[str | None, typer.Option(help="model@alias to follow")] = None,
    follow_steps: Annotated[
        str | None, typer.Option(help="traffic steps of a follow's rollout, e.g. 10,50,100")
    ] = None,
    follow_bake: Annotated[
        float | None, typer.Option(min=0, help="seconds each step of a follow's rollout bakes")
    ] = None,
) -> None:
    """Create an endpoint; its two keys are printed this once."""
    policy = follow_rollout(follow_steps, follow_bake)
    if policy is not None and follow is None:
        err.print("error: --follow-steps and --follow-bake need --follow model@alias")
        raise typer.Exit(1)
    doc = _run(
        lambda c: c.create_endpoint(name, auth_mode=auth_mode, follow=follow, follow_rollout=policy)
    )
    out.print(f"endpoint {name}: {doc['scoring_uri']}")
    for slot, key in doc.get("keys", {}).items():
        out.print(f"{slot} key: {key}", markup=False, highlight=False)
    if doc.get("keys"):
        err.print("[yellow]keys are stored hashed: save them now[/yellow]")


@app.command()
def show(name: str) -> None:
    """The endpoint, its traffic and mirror split, and its deployments' states."""
    doc = _run(lambda c: c.get_endpoint(name))
    out.print(f"{doc['name']}  {doc['scoring_uri']}  auth={doc['auth_mode']}")
    if doc.get("follow"):
        waiting = doc.get("awaiting")
        note = f" (awaits the image of version {waiting['version']})" if waiting else ""
        out.print(f"follows {doc['follow']}{note}", markup=False, highlight=False)
    table = Table("deployment", "traffic", "mirror", "state", "version", "replicas", "reason")
    for d in doc.get("deployments", []):
        table.add_row(d["name"], str(doc["traffic"].get(d["name"], 0)),
                      str(doc["mirror"].get(d["name"], 0)), str(d.get("state")),
                      f"{d['model_name']}:{d['version']}", str(len(d.get("upstreams", []))),
                      d.get("reason", ""))  # fmt: skip
    out.print(table)


@app.command()
def keys(name: str) -> None:
    """Key status: keys are shown once at creation or regeneration, never again."""
    doc = _run(lambda c: c.get_endpoint(name))
    out.print(f"{name}: auth={doc['auth_mode']} keys_revision={doc['keys_revision']}")
    out.print("keys are stored hashed; `modelops endpoint regenerate-keys` issues new ones")


@app.command("regenerate-keys")
def regenerate_keys(
    name: str, key: Annotated[str, typer.Option(help="primary or secondary")] = "secondary"
) -> None:
    """Replace one key; the other keeps working, so clients rotate without downtime."""
    new = _run(lambda c: c.regenerate_key(name, key))
    out.print(f"{key} key: {new}", markup=False, highlight=False)


@app.command()
def traffic(
    name: str,
    pairs: Annotated[list[str] | None, typer.Argument(help="deployment=percent ...")] = None,
    mirror: Annotated[list[str] | None, typer.Option(help="deployment=percent")] = None,
) -> None:
    """Set the live split (sums to 100) and/or the mirror split (at most 50 in total)."""
    live = split(pairs) if pairs else None
    doc = _run(lambda c: c.set_traffic(name, live, split(mirror) if mirror else None))
    out.print(f"traffic {doc['traffic']} mirror {doc['mirror']}")


@app.command()
def shadow(
    name: str,
    version: Annotated[int, typer.Argument(help="the model version to shadow")],
    percent: Annotated[int, typer.Option(min=1, max=50, help="share mirrored")] = 50,
    model: Annotated[str | None, typer.Option(help="default: the live deployment's")] = None,
    stop: Annotated[bool, typer.Option("--stop", help="stop and delete the shadow")] = False,
    status: Annotated[bool, typer.Option("--status", help="show it only")] = False,
) -> None:
    """Shadow a version: it gets a mirrored share of the live traffic (never answering), and
    the gateway counts how often its predictions agree with the live ones."""
    if stop:
        _run(lambda c: c.stop_shadow(name, version))
        out.print(f"stopped the shadow of version {version} on {name}")
        return
    doc = _run(
        (lambda c: c.shadow(name, version))
        if status
        else (lambda c: c.start_shadow(name, version, percent, model))
    )
    stats = doc.get("stats") or {}
    agreement = stats.get("agreement_rate")
    shown = "n/a" if agreement is None else f"{agreement:.1%}"
    out.print(
        f"{doc['deployment']}: {doc['state']}, mirrored {doc['percent']}%, "
        f"{stats.get('mirrored', 0)} requests, agreement {shown}"
    )


@app.command()
def invoke(
    name: str,
    request_file: Annotated[Path | None, typer.Option("--request-file", "-f")] = None,
    data: Annotated[str | None, typer.Option(help="JSON body")] = None,
    key: Annotated[str | None, typer.Option(envvar="MODELOPS_ENDPOINT_KEY")] = None,
    deployment: Annotated[str | None, typer.Option(help="pin one deployment")] = None,
) -> None:
    """Score through the gateway; prints the answer and which deployment gave it."""
    raw = request_file.read_text() if request_file else (data or "{}")
    body = json.loads(raw)
    result = _run(lambda g: g.invoke(name, body, key=key, deployment=deployment), GatewayClient())
    err.print(f"[dim]deployment {result.deployment} version {result.model_version}[/dim]")
    out.print_json(json.dumps(result.body))


@app.command()
def delete(name: str) -> None:
    """Delete the endpoint and stop its deployments."""
    _run(lambda c: c.delete_endpoint(name))
    out.print(f"deleted {name}")


def register_group(root: typer.Typer) -> None:
    root.add_typer(app, name="endpoint")

"""`modelops webhook create|list|test|deliveries|replay|rotate-secret|pause|resume|delete`."""

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from modelops_client.cli.calls import call
from modelops_client.notifier import NotifierClient

app = typer.Typer(help="Webhook subscriptions: signed CloudEvents for lifecycle events.")
err, out = Console(stderr=True), Console()
Many = Annotated[list[str] | None, typer.Option()]


def _run(action: Any) -> Any:
    return call(NotifierClient(), action)


def _pairs(values: list[str] | None) -> dict[str, str]:
    pairs = {}
    for value in values or []:
        key, sep, val = value.partition("=")
        if not sep:
            err.print(f"error: invalid header {value!r}: expected name=value")
            raise typer.Exit(1)
        pairs[key] = val
    return pairs


@app.command()
def create(
    url: str,
    event_type: Annotated[list[str] | None, typer.Option("--event-type", "-e")] = None,
    subject: Annotated[list[str] | None, typer.Option("--subject", "-s")] = None,
    header: Annotated[list[str] | None, typer.Option("--header", "-H")] = None,
    description: str = "",
    paused: bool = False,
    allow_insecure: bool = typer.Option(False, help="Allow http:// (local use only)."),
) -> None:
    """Subscribe URL to events (default all); prints the signing secret once."""
    sub = _run(
        lambda c: c.create_subscription(
            url,
            event_types=event_type,
            subjects=subject,
            headers=_pairs(header),
            description=description,
            paused=paused,
            allow_insecure=allow_insecure,
        )
    )
    out.print(f"subscription {sub['id']}")
    out.print(f"secret {sub['secret']}  (shown once: store it to verify signatures)")


@app.command("list")
def list_() -> None:
    """Every subscription with its filters and state."""
    table = Table(title="webhook subscriptions")
    for column in ("id", "url", "event types", "subjects", "state", "description"):
        table.add_column(column)
    for s in _run(lambda c: c.list_subscriptions()):
        state = "disabled" if s["disabled"] else "paused" if s["paused"] else "active"
        table.add_row(
            s["id"],
            s["url"],
            ",".join(s["event_types"]),
            ",".join(s["subjects"]) or "*",
            state,
            s["description"],
        )
    out.print(table)


@app.command()
def test(subscription_id: str) -> None:
    """Send a signed ping now and show what the target answered."""
    d = _run(lambda c: c.test(subscription_id))
    attempt = d["attempts"][-1] if d["attempts"] else {}
    out.print(
        f"{d['status']}: status={attempt.get('status_code')} "
        f"latency={attempt.get('latency_ms')}ms error={attempt.get('error')}"
    )
    if d["status"] != "delivered":
        raise typer.Exit(1)


@app.command()
def deliveries(
    subscription_id: Annotated[str | None, typer.Option("--subscription")] = None,
    event_id: Annotated[str | None, typer.Option("--event")] = None,
    status: Annotated[str | None, typer.Option(help="pending, delivered or dead_letter")] = None,
    limit: int = 50,
    output: Annotated[str, typer.Option("--output", help="table or json")] = "table",
) -> None:
    """Deliveries (newest first) with their attempts."""
    items = _run(
        lambda c: c.deliveries(
            subscription_id=subscription_id, event_id=event_id, status=status, limit=limit
        )
    )
    if output == "json":
        out.print_json(json.dumps(items))
        return
    table = Table(title="deliveries")
    for column in ("webhook-id", "subscription", "event type", "status", "attempts", "last"):
        table.add_column(column)
    for d in items:
        last = d["last_status_code"] or d["last_error"] or ""
        table.add_row(
            d["id"],
            d["subscription_id"],
            d["event_type"],
            d["status"],
            str(d["attempt_count"]),
            str(last)[:60],
        )
    out.print(table)


@app.command()
def replay(
    delivery_id: Annotated[str | None, typer.Argument()] = None,
    subscription_id: Annotated[str | None, typer.Option("--subscription")] = None,
    since: Annotated[
        datetime | None, typer.Option(help="With --subscription: from this time")
    ] = None,
    include_delivered: bool = typer.Option(False, help="Replay delivered ones too"),
) -> None:
    """Replay one delivery (same webhook-id), or a subscription's since a time."""
    if delivery_id:
        d = _run(lambda c: c.replay(delivery_id))
        out.print(f"replaying {d['id']} (series {d['series']})")
        return
    if not (subscription_id and since):
        err.print("error: give a delivery id, or --subscription and --since")
        raise typer.Exit(1)
    statuses = ("dead_letter", "delivered") if include_delivered else ("dead_letter",)
    count = _run(lambda c: c.replay_since(subscription_id, since, statuses))
    out.print(f"replaying {count} deliveries")


@app.command("rotate-secret")
def rotate_secret(subscription_id: str, overlap_s: float | None = None) -> None:
    """A new signing secret; the old one signs too during the overlap."""
    sub = _run(lambda c: c.rotate_secret(subscription_id, overlap_s))
    out.print(f"secret {sub['secret']}  (shown once)")


@app.command()
def pause(subscription_id: str) -> None:
    """Hold deliveries until resumed."""
    _run(lambda c: c.pause(subscription_id))


@app.command()
def resume(subscription_id: str) -> None:
    """Deliver what was held, and new events again."""
    _run(lambda c: c.resume(subscription_id))


@app.command()
def delete(subscription_id: str) -> None:
    """Remove a subscription."""
    _run(lambda c: c.delete_subscription(subscription_id))


def register_group(root: typer.Typer) -> None:
    root.add_typer(app, name="webhook")

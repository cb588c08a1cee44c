"""`modelops alert create|list|delete`: Slack-style or e-mail alerts with a cool-down."""

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from modelops_client.cli.calls import call
from modelops_client.notifier import NotifierClient

app = typer.Typer(help="Alert rules: people hear about drift, failures and more.")
err, out = Console(stderr=True), Console()


def _run(action: Any) -> Any:
    return call(NotifierClient(), action)


@app.command()
def create(
    name: str,
    event_type: Annotated[list[str], typer.Option("--event-type", "-e")],
    slack_url: Annotated[str | None, typer.Option(help="Incoming-webhook URL")] = None,
    email: Annotated[list[str] | None, typer.Option(help="Recipient (repeatable)")] = None,
    subject: Annotated[list[str] | None, typer.Option("--subject", "-s")] = None,
    where: Annotated[list[str] | None, typer.Option(help="field=value, e.g. state=Failed")] = None,
    cooldown_s: float | None = None,
    allow_insecure: bool = False,
) -> None:
    """Alert on matching events through Slack (--slack-url) or e-mail (--email)."""
    if bool(slack_url) == bool(email):
        err.print("error: give exactly one of --slack-url or --email")
        raise typer.Exit(1)
    channel = {"kind": "slack", "url": slack_url} if slack_url else {"kind": "email", "to": email}
    conditions = dict(w.partition("=")[::2] for w in where or [])
    rule = _run(
        lambda c: c.create_alert(
            name,
            event_type,
            channel,
            subjects=subject,
            where=conditions,
            cooldown_s=cooldown_s,
            allow_insecure=allow_insecure,
        )
    )
    out.print(f"alert {rule['id']} (cool-down {rule['cooldown_s']:.0f}s)")


@app.command("list")
def list_() -> None:
    """Every alert rule."""
    table = Table(title="alert rules")
    for column in ("id", "name", "event types", "channel", "cool-down s"):
        table.add_column(column)
    for r in _run(lambda c: c.list_alerts()):
        ch = r["channel"]
        target = ch.get("url") or ",".join(ch.get("to", []))
        table.add_row(
            r["id"],
            r["name"],
            ",".join(r["event_types"]),
            f"{ch['kind']}: {target}",
            f"{r['cooldown_s']:.0f}",
        )
    out.print(table)


@app.command()
def delete(rule_id: str) -> None:
    """Remove an alert rule."""
    _run(lambda c: c.delete_alert(rule_id))


def register_group(root: typer.Typer) -> None:
    root.add_typer(app, name="alert")

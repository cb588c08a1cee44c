"""`modelops policy set|show|list|delete`, `modelops promote` and `modelops promotion ...`."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from modelops_client.cli.calls import call
from modelops_client.jobs import JobsClient

policies = typer.Typer(help="Promotion policies: how a model's new versions are judged.")
promotions = typer.Typer(help="Promotion decisions: comparisons, verdicts, approvals.")
err, out = Console(stderr=True), Console()


def _run(action: Any) -> Any:
    return call(JobsClient(), action)


def _criterion(text: str) -> dict[str, Any]:
    """`accuracy>=0.9`, `f1:+0.01` (gain over the champion), `rmse<=3`, `auc:+2%`."""
    for sign in (">=", "<="):
        if sign in text:
            metric, value = text.split(sign, 1)
            return {"metric": metric, "threshold": float(value), "higher_is_better": sign == ">="}
    if ":" in text:
        metric, margin = text.split(":", 1)
        if margin.endswith("%"):
            return {"metric": metric, "min_relative_improvement": float(margin[:-1]) / 100}
        return {"metric": metric, "min_improvement": float(margin)}
    raise typer.BadParameter(f"criterion {text!r}: METRIC>=X, METRIC<=X, METRIC:+GAIN or :+N%")


@policies.command("set")
def set_policy(
    model: str,
    criterion: Annotated[
        list[str] | None,
        typer.Option(help="accuracy>=0.9 | f1:+0.01 (over champion) | auc:+2% | rmse<=3 (repeat)"),
    ] = None,
    dataset: Annotated[str | None, typer.Option(help="held-out dataset NAME[:VERSION]")] = None,
    endpoint: Annotated[
        str | None, typer.Option(help="score on the labelled holdout of this endpoint")
    ] = None,
    window: Annotated[int, typer.Option(help="seconds of production data")] = 86_400,
    label: Annotated[str, typer.Option(help="the dataset's label column")] = "label",
    task: Annotated[str, typer.Option(help="classification or regression")] = "classification",
    alias: Annotated[str, typer.Option(help="the alias promotion moves")] = "champion",
    min_rows: Annotated[int, typer.Option(help="fewer labelled rows: rejected")] = 50,
    approval: bool = typer.Option(False, "--approval", help="a human approves passing versions"),
    manual: bool = typer.Option(False, "--manual", help="judge only on `modelops promote`"),
    shadow: Annotated[
        str | None, typer.Option(help="shadow period on this endpoint's live traffic first")
    ] = None,
    shadow_percent: Annotated[int, typer.Option(help="share mirrored to the shadow")] = 50,
    shadow_seconds: Annotated[float, typer.Option(help="least time mirroring")] = 600.0,
    shadow_requests: Annotated[int, typer.Option(help="least mirrored requests")] = 100,
    min_agreement: Annotated[float, typer.Option(help="same-prediction share (0-1)")] = 0.9,
    file: Annotated[Path | None, typer.Option(help="the whole policy as JSON")] = None,
) -> None:
    """Set how the model's new versions are judged against the champion and promoted."""
    if file is not None:
        body = json.loads(file.read_text())
    else:
        name, _, version = (dataset or "").partition(":")
        evaluation = {"endpoint": endpoint, "window_s": window, "label_column": label,
                      "task": task, "dataset": name or None,
                      "dataset_version": version or "latest"}  # fmt: skip
        body = {"alias": alias, "evaluation": evaluation, "min_rows": min_rows,
                "criteria": [_criterion(c) for c in criterion or []],
                "require_approval": approval, "auto": not manual}  # fmt: skip
        if shadow is not None:
            body["shadow"] = {"endpoint": shadow, "percent": shadow_percent,
                              "duration_s": shadow_seconds, "min_requests": shadow_requests,
                              "min_agreement": min_agreement}  # fmt: skip
    policy = _run(lambda c: c.set_policy(model, body))
    out.print(f"policy of {model}: {len(policy['criteria'])} criteria on @{policy['alias']}")


@policies.command("show")
def show_policy(model: str) -> None:
    """A model's promotion policy."""
    out.print_json(json.dumps(_run(lambda c: c.get_policy(model)), default=str))


@policies.command("list")
def list_policies() -> None:
    """Every promotion policy."""
    table = Table(title="promotion policies")
    for column in ("model", "alias", "criteria", "approval", "auto"):
        table.add_column(column)
    for p in _run(lambda c: c.list_policies()):
        criteria = ", ".join(c["metric"] for c in p["criteria"])
        table.add_row(
            p["model_name"], p["alias"], criteria, str(p["require_approval"]), str(p["auto"])
        )
    out.print(table)


@policies.command("delete")
def delete_policy(model: str) -> None:
    """Remove a model's policy (its new versions are no longer judged)."""
    _run(lambda c: c.delete_policy(model))
    out.print(f"policy of {model} deleted")


def print_decision(d: dict[str, Any]) -> None:
    """The comparison as a table: each criterion, both values, the verdict; then the decision."""
    champion = d.get("champion_version")
    table = Table(title=f"{d['model_name']}:{d['version']} vs champion {champion or '(none)'}")
    for column in ("metric", "challenger", "champion", "verdict", "why"):
        table.add_column(column)
    for v in d.get("verdicts", []):
        values = [v["challenger"], v["champion"]]
        shown = ["-" if x is None else f"{x:.4f}" for x in values]
        table.add_row(v["metric"], *shown, "pass" if v["passed"] else "FAIL", v["reason"])
    out.print(table)
    state = "dry run: " + ("would promote" if d.get("passed") else "would reject")
    out.print(f"{state if d.get('dry_run') else d.get('state')}: {d.get('reason', '')}")


def promote(
    model: str,
    version: int,
    dry_run: bool = typer.Option(False, "--dry-run", help="compare only; change nothing"),
) -> None:
    """Judge a version against the champion by the model's policy, and promote it if it passes."""
    decision = _run(lambda c: c.promote(model, version, dry_run))
    print_decision(decision)
    if not dry_run and decision.get("state") in ("rejected", "failed"):
        raise typer.Exit(1)


@promotions.command("list")
def list_promotions(model: Annotated[str | None, typer.Option()] = None, limit: int = 50) -> None:
    """Latest promotion decisions."""
    table = Table(title="promotions")
    for column in ("id", "state", "champion", "decided", "reason"):
        table.add_column(column)
    for p in _run(lambda c: c.promotions(model, limit)):
        table.add_row(
            p["promotion_id"], p["state"], str(p.get("champion_version") or "-"),
            str(p.get("decided_at") or ""), p.get("reason") or "",
        )  # fmt: skip
    out.print(table)


@promotions.command("show")
def show_promotion(promotion_id: str) -> None:
    """One decision: the comparison, each criterion's verdict, the outcome."""
    print_decision(_run(lambda c: c.get_promotion(promotion_id)))


@promotions.command("approve")
def approve(promotion_id: str, reason: str = "") -> None:
    """Approve a version that passed and waits for a human: the alias moves."""
    print_decision(_run(lambda c: c.review(promotion_id, True, reason)))


@promotions.command("reject")
def reject(promotion_id: str, reason: str = "") -> None:
    """Reject a version that waits for approval: production is untouched."""
    print_decision(_run(lambda c: c.review(promotion_id, False, reason)))


def register_group(root: typer.Typer) -> None:
    root.add_typer(policies, name="policy")
    root.add_typer(promotions, name="promotion")
    root.command("promote")(promote)

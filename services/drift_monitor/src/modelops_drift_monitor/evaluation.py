"""A run's computations: drift + quality (fast path), performance, and its stored reports."""

import asyncio
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]  # no type information shipped
import pyarrow.dataset as pads  # type: ignore[import-untyped]  # no type information shipped
import pyarrow.parquet as pq  # type: ignore[import-untyped]  # no type information shipped
import structlog

from modelops_drift_monitor import domain, reports
from modelops_drift_monitor.baseline import Baseline
from modelops_drift_monitor.drift import DriftResult, check_drift, sample_indices
from modelops_servicekit import model_metrics

if TYPE_CHECKING:
    from modelops_drift_monitor.app_deps import Deps

log = structlog.get_logger(__name__)


@dataclass
class Outcome:
    """What a run found."""

    drift: DriftResult
    result: dict[str, Any]


def performance_of(monitor: domain.CreateMonitor, source: pads.Dataset) -> dict[str, float]:
    """Quality metrics on the rows that carry both a label and a prediction."""
    target, pred = monitor.target_column, monitor.prediction_column
    names = source.schema.names
    if not target or not pred or target not in names or pred not in names:
        return {}
    cols = [target, pred] + ([monitor.score_column] if monitor.score_column in names else [])
    table = source.to_table(columns=cols).drop_null()
    if table.num_rows == 0:
        return {}
    y, p = table.column(0).to_pylist(), table.column(1).to_pylist()
    if monitor.task == "regression":
        return model_metrics.regression(y, p)
    scores = table.column(2).to_pylist() if len(cols) == 3 else None
    return model_metrics.classification(y, p, scores)


def evaluate(
    monitor: domain.CreateMonitor,
    doc: dict[str, Any],
    baseline: Baseline,
    current: pads.Dataset,
    workers: int,
) -> Outcome:
    """Drift and data quality of the watched features, and model performance."""
    features = domain.watched(
        monitor, list(doc["baseline_columns"]) + list(doc["baseline_skipped"])
    )
    options = replace(domain.drift_options(monitor, features), workers=workers)
    drift = check_drift(baseline, current, options)
    perf = performance_of(monitor, current)
    quality = domain.quality_breaches(monitor, drift)
    return Outcome(drift, reports.result_json(drift, perf, quality))


def write_sample(source: pads.Dataset | Path, path: Path, rows: int, seed: int) -> None:
    """A reproducible sample of a dataset as Parquet (for Evidently's HTML report)."""
    data = source if isinstance(source, pads.Dataset) else pads.dataset(str(source))
    table = data.to_table()
    take = sample_indices(table.num_rows, rows, seed)
    if take is not None:
        table = table.take(pa.array(take))
    pq.write_table(table, path)


def _evidently_html(
    baseline_sample: Path, current: Path, rows: int, seed: int, columns: list[str]
) -> str:
    from modelops_drift_monitor.evidently_report import render_html

    cur_sample = current.with_name("cur-sample.parquet")
    write_sample(current, cur_sample, rows, seed)
    ref = pq.read_table(baseline_sample).to_pandas()
    cur = pq.read_table(cur_sample).to_pandas()
    common = [c for c in columns if c in ref.columns and c in cur.columns]
    return render_html(ref[common], cur[common], common)


async def store_reports(
    deps: "Deps",
    monitor: domain.CreateMonitor,
    monitor_id: str,
    run_id: str,
    outcome: Outcome,
    current: Path,
    generation: int = 0,
) -> dict[str, str]:
    """Result JSON, our HTML page and Evidently's (on samples) stored under the run's prefix."""
    prefix = f"monitors/{monitor_id}/runs/{run_id}"
    keys = {
        "result": f"{prefix}/result.json",
        "report": f"{prefix}/report.html",
        "evidently": f"{prefix}/evidently.html",
    }
    folder = current.parent
    ev_html = None
    if deps.evidently_sample_rows > 0:
        sample = folder / "baseline-sample.parquet"
        await deps.objects.get_file(domain.baseline_keys(monitor_id, generation)[1], sample)
        columns = [f.feature for f in outcome.drift.features]
        try:
            ev_html = await asyncio.to_thread(
                _evidently_html, sample, current, deps.evidently_sample_rows, monitor.seed, columns
            )
        except Exception as exc:  # Evidently's page is an extra: the verdict does not need it
            log.warning("evidently_report_failed", run_id=run_id, error=repr(exc))
        else:
            (folder / "evidently.html").write_text(ev_html)
            await deps.objects.put_file(folder / "evidently.html", keys["evidently"])
    if ev_html is None:
        keys.pop("evidently")
    (folder / "result.json").write_text(json.dumps(outcome.result, default=float))
    href = "evidently" if ev_html else None
    (folder / "report.html").write_text(
        reports.render_html(f"{monitor.name}: run {run_id}", outcome.result, href)
    )
    for name in ("result", "report"):
        suffix = "json" if name == "result" else "html"
        await deps.objects.put_file(folder / f"{name}.{suffix}", keys[name])
    return keys


def finite(x: float) -> bool:
    return bool(np.isfinite(x))

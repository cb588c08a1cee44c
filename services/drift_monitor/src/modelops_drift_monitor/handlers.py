"""Use cases: create a monitor (baseline statistics computed once), run it, react to windows,
rebaseline it when its model is promoted."""

import asyncio
import json
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.dataset as pads  # type: ignore[import-untyped]  # no type information shipped
import structlog

from modelops_contracts.events import CollectionWindowClosed, ModelPromoted
from modelops_drift_monitor import domain, evaluation, schedule
from modelops_drift_monitor.app_deps import Deps
from modelops_drift_monitor.baseline import build_baseline, load_baseline, save_baseline
from modelops_drift_monitor.ports import Monitors
from modelops_servicekit.errors import Invalid, NotFound, Unavailable
from modelops_servicekit.outbox import with_outbox

Document = dict[str, Any]
log = structlog.get_logger(__name__)


def _open(paths: list[Path]) -> pads.Dataset:
    fmt = "csv" if paths[0].suffix == ".csv" else "parquet"
    return pads.dataset([str(p) for p in paths], format=fmt)


async def _baseline_files(deps: Deps, body: domain.CreateMonitor, folder: Path) -> list[Path]:
    ref = body.baseline
    if ref.dataset is not None:
        return await deps.datasets.fetch(ref.dataset, ref.version, folder)
    if body.endpoint_name is None or ref.window_start is None or ref.window_end is None:
        raise Invalid("a production-window baseline needs endpoint_name")
    path = await deps.windows.fetch(
        body.endpoint_name,
        body.model_version,
        ref.window_start,
        ref.window_end,
        folder / "w.parquet",
    )
    if path is None:
        raise Invalid("the baseline window holds no collected rows")
    return [path]


async def _summarise(
    deps: Deps, body: domain.CreateMonitor, files: list[Path], monitor_id: str, generation: int,
    metrics: dict[str, float] | None = None,
) -> Document:  # fmt: skip
    """Summarise baseline data once: its statistics and Evidently sample stored under the
    generation's keys; the monitor fields that describe it. The performance bar is `metrics`
    when given, else the monitor's, else measured on the data."""
    source = _open(files)
    baseline = await asyncio.to_thread(build_baseline, source)
    if metrics is None:
        metrics = body.baseline_metrics or await asyncio.to_thread(
            evaluation.performance_of, body, source
        )
    folder = files[0].parent
    npz, sample = folder / "baseline.npz", folder / "sample.parquet"
    await asyncio.to_thread(save_baseline, baseline, npz)
    await asyncio.to_thread(
        evaluation.write_sample, source, sample, deps.evidently_sample_rows, body.seed
    )
    npz_key, sample_key = domain.baseline_keys(monitor_id, generation)
    await deps.objects.put_file(npz, npz_key)
    await deps.objects.put_file(sample, sample_key)
    return {
        "baseline_metrics": metrics,
        "baseline_rows": baseline.rows,
        "baseline_columns": {n: c.kind for n, c in baseline.columns.items()},
        "baseline_skipped": baseline.skipped,
        "baseline_generation": generation,
    }


async def create_monitor(deps: Deps, body: domain.CreateMonitor, actor: str) -> Document:
    """Fetch the baseline, summarise it once, store the statistics, save the monitor."""
    monitor_id = uuid.uuid4().hex
    with tempfile.TemporaryDirectory(prefix="baseline-") as tmp:
        files = await _baseline_files(deps, body, Path(tmp))
        summary = await _summarise(deps, body, files, monitor_id, 0)
    doc = (
        body.model_dump(mode="json")
        | summary
        | {
            "_id": monitor_id,
            "created_by": actor,
            "created_at": datetime.now(UTC),
            "last_run_at": None,
        }
    )
    await deps.monitors.insert(doc)
    return doc


async def on_model_promoted(deps: Deps, event: ModelPromoted) -> None:
    """Monitors of the model that rebaseline on promotion take the endpoint's collected data
    before the promotion as their baseline (a new generation; runs read the newest). A monitor
    that cannot (no data, bad data) is logged and skipped; a peer that is down retries all."""
    if not await deps.inbox.seen(event):
        for doc in await deps.monitors.list():
            wanted = doc["model_name"] == event.model_name and doc.get("rebaseline_on_promotion")
            if not wanted or doc.get("model_version") is not None:
                continue  # a monitor pinned to one version keeps watching that version
            try:
                await rebaseline(deps, doc, event)
            except Unavailable:
                raise
            except Exception as exc:
                log.warning("rebaseline_failed", monitor_id=doc["_id"], error=repr(exc))
    await deps.inbox.record(event)


async def rebaseline(deps: Deps, doc: Document, event: ModelPromoted) -> None:
    monitor = domain.CreateMonitor.model_validate(doc)
    done = doc.get("rebaselined") or {}
    if done.get("event_id") == str(event.event_id) or (
        done.get("window_end") and schedule.utc(done["window_end"]) >= event.occurred_at
    ):
        return  # this promotion, or a later one, is the baseline already
    assert monitor.endpoint_name is not None  # the model checks it
    end = event.occurred_at
    start = end - timedelta(seconds=monitor.rebaseline_window_s or monitor.window_s)
    generation = int(doc.get("baseline_generation", 0)) + 1
    with tempfile.TemporaryDirectory(prefix="baseline-") as tmp:
        path = await deps.windows.fetch(
            monitor.endpoint_name, None, start, end, Path(tmp) / "w.parquet"
        )
        if path is None:
            log.warning("rebaseline_skipped", monitor_id=doc["_id"], reason="empty window")
            return
        # the performance bar stays: the window's predictions are the old champion's
        kept = doc.get("baseline_metrics") or {}
        summary = await _summarise(deps, monitor, [path], doc["_id"], generation, kept)
    summary["rebaselined"] = {"event_id": str(event.event_id), "version": event.version,
                              "window_start": start, "window_end": end,
                              "at": datetime.now(UTC)}  # fmt: skip
    if not await deps.monitors.set_baseline(doc["_id"], generation - 1, summary):
        raise Unavailable(f"monitor {doc['_id']} was rebaselined meanwhile; trying again")
    log.info("monitor_rebaselined", monitor_id=doc["_id"], version=event.version,
             rows=summary["baseline_rows"], generation=generation)  # fmt: skip


async def _baseline_path(deps: Deps, doc: Document) -> Path:
    generation = int(doc.get("baseline_generation", 0))
    path = deps.cache_dir / f"{doc['_id']}-g{generation}.npz"
    if not path.exists():
        await deps.objects.get_file(domain.baseline_keys(doc["_id"], generation)[0], path)
    return path


async def run_monitor(
    deps: Deps,
    monitor_id: str,
    current: Path | None = None,
    window: tuple[datetime, datetime] | None = None,
    trigger: str = "manual",
) -> Document | None:
    """One run: drift, quality and performance of a window; result, report and events stored."""
    doc = await deps.monitors.get(monitor_id)
    monitor = domain.CreateMonitor.model_validate(doc)
    run_id = uuid.uuid4().hex
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="run-") as tmp:
        if current is None:
            end = window[1] if window else started
            start = window[0] if window else end - timedelta(seconds=monitor.window_s)
            if monitor.endpoint_name is None:
                raise Invalid("this monitor has no endpoint: give the current data in the request")
            current = await deps.windows.fetch(
                monitor.endpoint_name, monitor.model_version, start, end, Path(tmp) / "cur.parquet"
            )
            if current is None:
                return None
            window = (start, end)
        baseline = load_baseline(await _baseline_path(deps, doc))
        outcome = await asyncio.to_thread(
            evaluation.evaluate, monitor, doc, baseline, _open([current]), deps.workers
        )
        generation = int(doc.get("baseline_generation", 0))
        keys = await evaluation.store_reports(
            deps, monitor, monitor_id, run_id, outcome, current, generation
        )
    report_uri = f"s3://{deps.objects.bucket}/{keys['report']}"
    events = domain.run_events(
        monitor_id, run_id, monitor, outcome.drift, outcome.result["performance"], report_uri
    )
    run = {
        "_id": run_id,
        "monitor_id": monitor_id,
        "trigger": trigger,
        "started_at": started,
        "finished_at": datetime.now(UTC),
        "window_start": window[0] if window else None,
        "window_end": window[1] if window else None,
        "dataset_drift": outcome.drift.dataset_drift,
        "drift_share": outcome.drift.share_drifted,
        "drifted_features": outcome.drift.drifted_features,
        "quality_breaches": outcome.result["quality_breaches"],
        "performance": outcome.result["performance"],
        "rows": outcome.drift.rows,
        "sample_size": outcome.drift.sample_size,
        "report_uri": report_uri,
        "keys": keys,
        "scores": {f["feature"]: f["score"] for f in outcome.result["features"]},
        "thresholds": {f["feature"]: f["threshold"] for f in outcome.result["features"]},
        "tests": {f["feature"]: f["test"] for f in outcome.result["features"]},
        "events": [e.subject for e in events],
    }
    await deps.runs.insert(with_outbox(run, events))
    await deps.monitors.set_last_run(monitor_id, started)
    deps.kick()
    run.pop("_outbox", None)
    return run


async def on_window_closed(deps: Deps, event: CollectionWindowClosed) -> None:
    """Run every monitor of the endpoint that triggers on closed windows (once per event)."""
    if not await deps.inbox.record(event):
        return
    for doc in await deps.monitors.list(event.endpoint_name):
        version = doc.get("model_version")
        if doc.get("on_window_closed") and version in (None, event.model_version):
            await run_monitor(
                deps,
                doc["_id"],
                window=(event.window_start, event.window_end),
                trigger="window_closed",
            )


async def run_due(
    monitors: Monitors, now: datetime, run: Callable[[str], Awaitable[Document | None]]
) -> int:
    """Run (with `run`) the monitors whose interval or cron time has come; how many ran.

    Each due monitor is claimed first (last_run_at moved to `now` only if unchanged), so one
    replica runs it; an empty window or a failed run waits for the next scheduled time.
    """
    ran = 0
    for doc in await monitors.list():
        if not schedule.is_due(doc, now):
            continue
        if not await monitors.claim_run(doc["_id"], doc.get("last_run_at"), now):
            continue
        try:
            done = await run(doc["_id"])
        except Exception as exc:  # one broken monitor must not stop the others' schedules
            log.warning("scheduled_run_failed", monitor_id=doc["_id"], error=repr(exc))
            continue
        if done is None:
            log.info("scheduled_run_skipped", monitor_id=doc["_id"], reason="empty window")
        ran += 1
    return ran


async def run_scheduled(deps: Deps, now: datetime) -> int:
    """One sweep of the scheduler: due monitors run on their latest window."""

    async def run(monitor_id: str) -> Document | None:
        return await run_monitor(deps, monitor_id, trigger="schedule")

    return await run_due(deps.monitors, now, run)


def result_bytes(result: dict[str, Any]) -> bytes:
    return json.dumps(result, default=str).encode()


async def run_result(deps: Deps, monitor_id: str, run_id: str) -> Document:
    """A run's full JSON result (per-feature tests, distributions, quality, performance)."""
    doc = await deps.runs.get(monitor_id, run_id)
    key = doc.get("keys", {}).get("result")
    if key is None:
        raise NotFound(f"run {run_id} has no result")
    chunks = [chunk async for chunk in deps.objects.get_stream(key)]
    result: Document = json.loads(b"".join(chunks))
    return result

"""Use cases of triggers: events and cron times start runs, de-duplicated and cooled down.

The decision is race-safe across replicas and redeliveries: a run starts only after one
conditional write on the job document claimed it (no active run, cool-down passed, event new).
"""

import asyncio
import uuid
from datetime import datetime, timedelta

import structlog

from modelops_contracts.events import Event
from modelops_jobs import triggers
from modelops_jobs.app_deps import Deps
from modelops_jobs.domain import ACTIVE, now
from modelops_jobs.handlers import start_run
from modelops_jobs.ports import Document
from modelops_jobs.triggers import Cause

log = structlog.get_logger(__name__)
ACTOR = "trigger"
LOST = "another trigger claimed the job first"


async def on_event(deps: Deps, event: Event) -> None:
    """Start a run of each job with a matching trigger; a redelivered event starts nothing."""
    if await deps.inbox.seen(event):
        log.info("trigger_event_redelivered", event_id=str(event.event_id))
        return
    kind = triggers.event_type(event.subject)
    fields = event.model_dump(mode="json")
    for job in await deps.jobs.triggered_by(kind):
        cause = triggers.matching(job, kind, fields)
        if cause is not None:
            await fire(deps, job, cause)
    await deps.inbox.record(event)


async def held_by(deps: Deps, key: str, at: datetime) -> str | None:
    """The run holding the job's claim while it is active (or just claimed); a claim whose run
    ended, or never began, is dropped."""
    claim = await deps.claims.get(key)
    if claim is None:
        return None
    run = await deps.runs.get(claim["run_id"])
    fresh = at - triggers.utc(claim["at"]) < timedelta(seconds=deps.settings.stale_after_s)
    if (run is not None and run["state"] in ACTIVE) or (run is None and fresh):
        return str(claim["run_id"])
    await deps.claims.drop(key, claim["run_id"])
    return None


async def decide(deps: Deps, name: str, cause: Cause, at: datetime, run_id: str) -> str | None:
    """Claim the job for `run_id`, then judge it with the claim held; the reason to skip, if any.

    Only the holder of the job's claim judges and starts, so replicas and redeliveries racing on
    one job are serialised; a skip releases the claim."""
    key = f"active:{name}"
    holder = await held_by(deps, key, at)
    if holder is not None:
        return f"run {holder} of the job is queued or running"
    if not await deps.claims.take(key, {"run_id": run_id, "at": at}):
        return LOST
    job = await deps.jobs.get(name) or {}
    reason = triggers.skip_reason(job, cause, at, await deps.runs.active_of(name))
    if reason is not None:
        await deps.claims.drop(key, run_id)
    return reason


async def fire(deps: Deps, job: Document, cause: Cause) -> Document | None:
    """Start a run for the cause unless de-duplicated or cooling down; note the decision."""
    at, run_id, name = now(), uuid.uuid4().hex, job["name"]
    reason = await decide(deps, name, cause, at, run_id)
    decision: Document = {**cause.as_doc(), "at": at, "started": reason is None}
    if reason is not None:
        log.info("trigger_skipped", job_name=name, reason=reason, **cause.as_doc())
        await deps.jobs.note(name, {**decision, "reason": reason})
        return None
    await deps.jobs.mark(name, {"last_triggered_at": at, "last_trigger_event_id": cause.event_id})
    run = await start_run(deps, name, {}, ACTOR, cause, run_id)
    log.info("trigger_started_run", job_name=name, run_id=run_id, **cause.as_doc())
    await deps.jobs.note(name, {**decision, "run_id": run_id})
    return run


async def run_due(deps: Deps, at: datetime) -> int:
    """Start the runs of jobs whose cron time came; each time is claimed once (one replica)."""
    started = 0
    for job in await deps.jobs.scheduled():
        due = triggers.cron_next(job)
        if due is None or due > at:
            continue
        if not await deps.claims.take(f"cron:{job['name']}:{due.isoformat()}", {"at": at}):
            continue
        await deps.jobs.mark(job["name"], {"last_scheduled_at": at})
        started += await fire(deps, job, Cause(triggers.SCHEDULE, None, 0)) is not None
    return started


async def schedule_loop(deps: Deps) -> None:
    """Check the schedules every `schedule_check_s`, until cancelled."""
    while True:
        try:
            await run_due(deps, now())
        except Exception as exc:  # Mongo away: check again next time
            log.warning("schedule_check_failed", error=repr(exc))
        await asyncio.sleep(deps.settings.schedule_check_s)

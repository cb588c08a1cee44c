"""Use cases: define jobs, start, read and cancel runs. No web, bus or database imports."""

import uuid
from typing import Any

from modelops_contracts.types import RunState
from modelops_jobs.app_deps import Deps
from modelops_jobs.domain import now
from modelops_jobs.ports import Document
from modelops_jobs.triggers import Cause, check_triggers
from modelops_servicekit.errors import Conflict, Invalid, NotFound
from modelops_servicekit.objects import blob_key


async def create_job(deps: Deps, body: dict[str, Any], actor: str) -> Document:
    """Store a job definition; its code snapshot must have been uploaded first."""
    check_triggers(body.get("triggers") or [], body.get("schedule_cron"))
    sha = body.get("code_sha256")
    if sha and await deps.store.stat(blob_key(sha)) is None:
        raise Invalid(f"no code snapshot {sha}: upload it with PUT /v1/snapshots/{sha}")
    doc = {**body, "created_by": actor, "created_at": now()}
    await deps.jobs.insert(doc)
    return doc


def found(doc: Document | None, what: str) -> Document:
    """The document, or NotFound naming what was looked for."""
    if doc is None:
        raise NotFound(f"no {what}")
    return doc


async def get_job(deps: Deps, name: str) -> Document:
    return found(await deps.jobs.get(name), f"job {name!r}")


async def start_run(
    deps: Deps,
    name: str,
    parameters: dict[str, str],
    actor: str,
    cause: Cause | None = None,
    run_id: str | None = None,
) -> Document:
    """Queue a run of the job (a copy of its definition, so later edits do not change it)."""
    job = await get_job(deps, name)
    at = now()
    run: Document = {
        "run_id": run_id or uuid.uuid4().hex,
        "job_name": name,
        "state": RunState.QUEUED.value,
        "trigger": cause.event_type if cause else "manual",
        "trigger_event": cause.as_doc() if cause else None,
        "command": job["command"],
        "code_sha256": job.get("code_sha256"),
        "parameters": {**job["parameters"], **parameters},
        "param_args": job["param_args"],
        "timeout_s": job["timeout_s"],
        "outputs": job["outputs"],
        "inputs": job.get("inputs", []),
        "environment": job.get("environment"),
        "resources": job.get("resources"),
        "created_by": actor,
        "created_at": at,
        "heartbeat_at": at,
    }
    await deps.runs.insert(run)
    deps.runner.submit(run)
    return run


async def get_run(deps: Deps, run_id: str) -> Document:
    return found(await deps.runs.get(run_id), f"run {run_id!r}")


async def cancel_run(deps: Deps, run_id: str) -> Document:
    """Cancel a queued or running run; an ended run cannot be cancelled."""
    run = await get_run(deps, run_id)
    if RunState(run["state"]) not in (RunState.QUEUED, RunState.RUNNING):
        raise Conflict(f"run {run_id} already ended ({run['state']})")
    if not deps.runner.holds(run_id):
        raise Conflict(f"run {run_id} is held by another jobs process; cancel it there")
    deps.runner.cancel(run_id)
    return run

"""HTTP API of the jobs: `/v1/snapshots`, `/v1/jobs`, `/v1/runs`."""

import asyncio
import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status

from modelops_jobs import handlers
from modelops_jobs.api_models import CreateJob, StartRun, as_strings
from modelops_jobs.app_deps import Deps
from modelops_jobs.ports import Document
from modelops_servicekit.errors import Invalid
from modelops_servicekit.objects import blob_key
from modelops_servicekit.outbox import OUTBOX_FIELD

router = APIRouter(tags=["jobs"])
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
LIVE_READ_MAX = 1024 * 1024


def get_deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


DepsDep = Annotated[Deps, Depends(get_deps)]
Actor = Annotated[str, Header(alias="modelops-user", description="Who is calling")]


def view(doc: Document) -> Document:
    return {k: v for k, v in doc.items() if k not in ("_id", OUTBOX_FIELD, "metrics")}


@router.put("/v1/snapshots/{sha256}", status_code=status.HTTP_201_CREATED)
async def upload_snapshot(sha256: str, request: Request, deps: DepsDep) -> Document:
    """Store a code snapshot (a tar or tar.gz of the job's folder), verified by its sha256."""
    if not SHA256_RE.fullmatch(sha256):
        raise Invalid(f"invalid sha256 {sha256!r}: 64 lower-case hex digits")
    length = request.headers.get("content-length", "")
    size = int(length) if length.isdigit() else None
    if size is not None and size > deps.settings.max_snapshot_bytes:
        raise Invalid(f"snapshot of {size} bytes exceeds {deps.settings.max_snapshot_bytes}")
    key = blob_key(sha256)
    stored = await deps.store.stat(key)
    if stored is None or stored.sha256 != sha256:
        stored = await deps.store.put_stream(key, request.stream(), sha256, size)
    return {"sha256": stored.sha256, "size": stored.size}


@router.post("/v1/jobs", status_code=status.HTTP_201_CREATED)
async def create_job(body: CreateJob, deps: DepsDep, actor: Actor = "anonymous") -> Document:
    data: dict[str, Any] = body.model_dump(mode="json")
    data["parameters"] = as_strings(body.parameters)
    return view(await handlers.create_job(deps, data, actor))


@router.get("/v1/jobs")
async def list_jobs(deps: DepsDep) -> Document:
    return {"items": [view(j) for j in await deps.jobs.all()]}


@router.get("/v1/jobs/{name}")
async def get_job(name: str, deps: DepsDep) -> Document:
    return view(await handlers.get_job(deps, name))


@router.post("/v1/jobs/{name}/runs", status_code=status.HTTP_201_CREATED)
async def start_run(
    name: str, deps: DepsDep, body: StartRun | None = None, actor: Actor = "anonymous"
) -> Document:
    parameters = as_strings(body.parameters) if body else {}
    return view(await handlers.start_run(deps, name, parameters, actor))


@router.get("/v1/runs")
async def list_runs(
    deps: DepsDep, job: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> Document:
    return {"items": [view(r) for r in await deps.runs.recent(job, limit)]}


@router.get("/v1/runs/{run_id}")
async def get_run(run_id: str, deps: DepsDep) -> Document:
    return view(await handlers.get_run(deps, run_id))


@router.post("/v1/runs/{run_id}/cancel", status_code=status.HTTP_202_ACCEPTED)
async def cancel_run(run_id: str, deps: DepsDep) -> Document:
    """Ask the run to stop; it ends `cancelled` once its process group is gone."""
    return view(await handlers.cancel_run(deps, run_id))


@router.get("/v1/runs/{run_id}/metrics")
async def get_metrics(run_id: str, deps: DepsDep) -> Document:
    run = await handlers.get_run(deps, run_id)
    return {
        "summary": run.get("metric_summary", {}),
        "points": run.get("metrics", []),
        "rejected": run.get("metrics_rejected", 0),
    }


def _read_from(path: str, offset: int) -> bytes:
    with Path(path).open("rb") as f:
        f.seek(offset)
        return f.read(LIVE_READ_MAX)


async def _stored_log(deps: Deps, key: str, offset: int) -> bytes:
    data = bytearray()
    async for chunk in deps.store.get_stream(key):
        data += chunk
    return bytes(data[offset:])


@router.get("/v1/runs/{run_id}/logs")
async def get_logs(run_id: str, deps: DepsDep, offset: Annotated[int, Query(ge=0)] = 0) -> Response:
    """The run's log from `offset`: live while it runs here, from the store once it ended.
    `x-run-state` says the state, `x-log-next-offset` where to read next."""
    run = await handlers.get_run(deps, run_id)
    live = deps.runner.log_path(run_id)
    if live is not None:
        data = await asyncio.to_thread(_read_from, live, offset)
    elif run.get("log_key"):
        data = await _stored_log(deps, run["log_key"], offset)
    else:
        data = b""
    headers = {"x-run-state": run["state"], "x-log-next-offset": str(offset + len(data))}
    return Response(data, media_type="text/plain; charset=utf-8", headers=headers)

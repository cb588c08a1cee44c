"""HTTP API: /v1/monitors, their runs and reports."""

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, status
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel

from modelops_drift_monitor import domain, handlers
from modelops_drift_monitor.app_deps import Deps
from modelops_servicekit.errors import Invalid, NotFound

router = APIRouter(prefix="/v1/monitors", tags=["monitors"])
PARQUET_TYPES = (
    "application/vnd.apache.parquet",
    "application/octet-stream",
    "application/x-parquet",
)
REPORTS = {"report": "text/html", "evidently": "text/html", "result": "application/json"}


def get_deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


DepsDep = Annotated[Deps, Depends(get_deps)]
Actor = Annotated[str, Header(alias="modelops-user")]


class RunWindow(BaseModel):
    """Run on a window of collected data (default: the last `window_s` seconds)."""

    window_start: datetime | None = None
    window_end: datetime | None = None


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in ("_id", "_outbox", "keys")}
    return {"id": doc["_id"], **out}


@router.post(
    "", status_code=status.HTTP_201_CREATED, summary="Create a monitor (baseline summarised once)"
)
async def create(
    body: domain.CreateMonitor, deps: DepsDep, actor: Actor = "anonymous"
) -> JSONResponse:
    doc = await handlers.create_monitor(deps, body, actor)
    return JSONResponse(
        _public(doc) | {"created_at": doc["created_at"].isoformat()}, status_code=201
    )


@router.get("", summary="Monitors, newest first")
async def list_monitors(deps: DepsDep, endpoint: str | None = None) -> list[dict[str, Any]]:
    return [_public(d) for d in await deps.monitors.list(endpoint)]


@router.get("/{monitor_id}", summary="One monitor")
async def show(monitor_id: str, deps: DepsDep) -> dict[str, Any]:
    return _public(await deps.monitors.get(monitor_id))


@router.post(
    "/{monitor_id}/runs",
    status_code=status.HTTP_201_CREATED,
    summary="Run now: a Parquet body, or a window of collected data",
)
async def run(monitor_id: str, request: Request, deps: DepsDep) -> dict[str, Any]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip()
    await deps.monitors.get(monitor_id)
    if ctype in PARQUET_TYPES:
        with tempfile.TemporaryDirectory(prefix="upload-") as tmp:
            path = Path(tmp) / "current.parquet"
            with path.open("wb") as f:
                async for chunk in request.stream():
                    f.write(chunk)
            doc = await handlers.run_monitor(deps, monitor_id, current=path)
    else:
        raw = await request.body()
        body = RunWindow.model_validate_json(raw) if raw else RunWindow()
        window = (
            (body.window_start, body.window_end) if body.window_start and body.window_end else None
        )
        doc = await handlers.run_monitor(deps, monitor_id, window=window)
    if doc is None:
        raise Invalid("the window holds no collected rows")
    return _public(doc)


@router.get(
    "/{monitor_id}/runs", summary="Runs of a monitor, newest first (drift scores over time)"
)
async def runs(monitor_id: str, deps: DepsDep, limit: int = 50) -> list[dict[str, Any]]:
    await deps.monitors.get(monitor_id)
    return [_public(d) for d in await deps.runs.list(monitor_id, min(max(limit, 1), 500))]


@router.get("/{monitor_id}/runs/{run_id}", summary="One run")
async def show_run(monitor_id: str, run_id: str, deps: DepsDep) -> dict[str, Any]:
    return _public(await deps.runs.get(monitor_id, run_id))


@router.get(
    "/{monitor_id}/runs/{run_id}/{kind}",
    summary="A run's report (HTML), Evidently's report (HTML) or full result (JSON)",
)
async def report(monitor_id: str, run_id: str, kind: str, deps: DepsDep) -> Response:
    if kind not in REPORTS:
        raise NotFound(f"no {kind!r}: one of {sorted(REPORTS)}")
    doc = await deps.runs.get(monitor_id, run_id)
    key = doc.get("keys", {}).get(kind)
    if key is None:
        raise NotFound(f"run {run_id} has no {kind}")
    return StreamingResponse(deps.objects.get_stream(key), media_type=REPORTS[kind])

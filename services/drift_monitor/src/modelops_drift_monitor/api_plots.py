"""HTTP API: plots of a monitor's features, as HTML pages or plotly figure JSON."""

import asyncio
from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response

from modelops_drift_monitor import handlers, plots
from modelops_drift_monitor.api import DepsDep
from modelops_servicekit.errors import NotFound

router = APIRouter(prefix="/v1/monitors", tags=["plots"])
Format = Literal["html", "json"]
FORMAT = Query("html", description="html: a page with plotly.js embedded; json: the figure")


async def _render(figure: plots.Figure, fmt: Format) -> Response:
    if fmt == "json":
        return JSONResponse(figure)
    return HTMLResponse(await asyncio.to_thread(plots.to_html, figure))


@router.get(
    "/{monitor_id}/runs/{run_id}/plots/{feature:path}",
    summary="One feature's distribution in a run: baseline vs current",
    response_class=HTMLResponse,
)
async def distribution(
    monitor_id: str, run_id: str, feature: str, deps: DepsDep, format: Format = FORMAT
) -> Response:
    result = await handlers.run_result(deps, monitor_id, run_id)
    found = [f for f in result["features"] if f["feature"] == feature]
    if not found:
        names = [f["feature"] for f in result["features"]]
        raise NotFound(f"run {run_id} did not check {feature!r}; it checked {names}")
    try:
        figure = plots.distribution_figure(found[0])
    except ValueError as exc:
        raise NotFound(str(exc)) from exc
    return await _render(figure, format)


@router.get(
    "/{monitor_id}/plots/{feature:path}",
    summary="One feature's drift score over the monitor's runs, with its threshold",
    response_class=HTMLResponse,
)
async def history(
    monitor_id: str,
    feature: str,
    deps: DepsDep,
    format: Format = FORMAT,
    limit: int = Query(100, ge=1, le=1000, description="Most recent runs shown"),
) -> Response:
    await deps.monitors.get(monitor_id)
    runs = list(reversed(await deps.runs.list(monitor_id, limit)))
    try:
        figure = plots.history_figure(feature, runs)
    except ValueError as exc:
        raise NotFound(str(exc)) from exc
    return await _render(figure, format)

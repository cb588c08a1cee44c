"""HTTP: ground-truth feedback in, collected windows (joined with labels) out."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from modelops_data_collector import handlers, records
from modelops_data_collector.app_deps import Deps
from modelops_servicekit.errors import Invalid

router = APIRouter(prefix="/v1", tags=["collector"])
PARQUET = "application/vnd.apache.parquet"
Document = dict[str, Any]


def _deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


def _feedback_items(body: bytes, content_type: str) -> list[Document]:
    """A JSON object, a JSON list of them, or CSV with `request_id,label` columns."""
    if "csv" in content_type:
        reader = csv.DictReader(io.StringIO(body.decode("utf-8-sig")))
        raw: Any = list(reader)
    else:
        try:
            raw = json.loads(body)
        except ValueError as exc:
            raise Invalid(f"body is not JSON: {exc}") from exc
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not item.get("request_id") or "label" not in item:
            raise Invalid(f"row {i}: needs request_id and label")
        out.append({"request_id": str(item["request_id"]), "label": item["label"]})
    return out


@router.post(
    "/feedback",
    summary="Upsert ground-truth labels by request id (JSON object, JSON list, or CSV)",
)
async def post_feedback(
    request: Request, endpoint: Annotated[str | None, Query()] = None
) -> Document:
    body = await request.body()
    items = _feedback_items(body, request.headers.get("content-type", ""))
    return await handlers.upload_feedback(_deps(request), items, endpoint)


def _json_rows(rows: list[Document]) -> list[Document]:
    for row in rows:
        row["inputs"] = json.loads(row.pop("inputs_json") or "null")
        row["outputs"] = json.loads(row.pop("outputs_json") or "null")
    return rows


@router.get(
    "/collected",
    summary="A window of collected predictions with their labels (Parquet, or a JSON page)",
    responses={200: {"content": {PARQUET: {}}}, 204: {"description": "no rows"}},
    response_model=None,
)
async def get_collected(
    request: Request,
    endpoint: str,
    model_version: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    format: Literal["parquet", "json"] = "parquet",
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> Response | Document:
    deps = _deps(request)
    end = (end or datetime.now(UTC)).astimezone(UTC)
    start = (start or end - timedelta(hours=1)).astimezone(UTC)
    table = await handlers.read_window(deps, endpoint, model_version, start, end)
    if format == "parquet":
        if table is None:
            return Response(status_code=204)
        return Response(records.parquet_bytes(table), media_type=PARQUET)
    size = page_size or deps.page_size
    total = 0 if table is None else table.num_rows
    rows = [] if table is None else table.slice((page - 1) * size, size).to_pylist()
    return {
        "rows": _json_rows(rows),
        "page": page,
        "page_size": size,
        "total": total,
        "next_page": page + 1 if page * size < total else None,
    }

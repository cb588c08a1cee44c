"""Transport-neutral errors and their one mapping to RFC 9457 problem+json responses."""

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger(__name__)


class ModelOpsError(Exception):
    """A failure with a neutral code; HTTP statuses are chosen only at the edge."""

    code = "internal"

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotFound(ModelOpsError):
    """The named thing does not exist."""

    code = "not_found"


class Conflict(ModelOpsError):
    """The request contradicts the current state."""

    code = "conflict"


class Invalid(ModelOpsError):
    """The input is malformed or breaks a rule."""

    code = "invalid"


class Unavailable(ModelOpsError):
    """A dependency is down; retrying later may succeed."""

    code = "unavailable"


STATUS_BY_CODE = {"not_found": 404, "conflict": 409, "invalid": 400, "unavailable": 503}
TITLE_BY_STATUS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def problem(status: int, detail: str, request: Request, **extra: Any) -> JSONResponse:
    """Render an RFC 9457 problem document."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLE_BY_STATUS.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _validation_message(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    errors = [
        {"loc": ".".join(str(p) for p in err.get("loc", ())), "msg": err.get("msg", "")}
        for err in exc.errors()
    ]
    summary = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors) or "invalid request"
    return summary, errors


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to problem+json: domain codes, validation, HTTP and unexpected ones."""

    @app.exception_handler(ModelOpsError)
    async def on_modelops_error(request: Request, exc: ModelOpsError) -> JSONResponse:
        status = STATUS_BY_CODE.get(exc.code, 500)
        return problem(status, exc.message, request, code=exc.code, **exc.detail)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        summary, errors = _validation_message(exc)
        return problem(422, summary, request, code="invalid", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), request)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path)
        return problem(500, "internal error; see the logs with this request_id", request)

"""The HTTP kit every service shares: request ids, Prometheus metrics, health routes."""

import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.routing import Match
from starlette.types import ASGIApp

from modelops_servicekit.errors import install_error_handlers

HealthCheck = Callable[[], Awaitable[bool]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
REQUEST_ID_HEADER = "x-request-id"


class ServiceMetrics:
    """Per-service Prometheus registry with HTTP request counters and latency histograms."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "modelops_http_requests_total",
            "HTTP requests handled",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "modelops_http_request_duration_seconds",
            "HTTP request latency",
            ["service", "method", "route"],
            registry=self.registry,
        )
        self.service = service


def _route_template(request: Request) -> str:
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match == Match.FULL:
            return str(getattr(route, "path", request.url.path))
    return "unmatched"


class RequestContextMiddleware(BaseHTTPMiddleware):
    """Give every request an id (echoed in the response and bound to log lines) and time it."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        super().__init__(app)
        self._metrics = metrics

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        request_id = request.headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex
        request.state.request_id = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
        route = _route_template(request)
        labels = (self._metrics.service, request.method, route)
        self._metrics.latency.labels(*labels).observe(time.perf_counter() - started)
        self._metrics.requests.labels(*labels, str(response.status_code)).inc()
        response.headers[REQUEST_ID_HEADER] = request_id
        return response


def health_router(checks: dict[str, HealthCheck], metrics: ServiceMetrics) -> APIRouter:
    """`/health/live`, `/health/ready` (every named check passes) and `/metrics`."""
    router = APIRouter(tags=["health"])

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    @router.get("/health/ready")
    async def ready() -> JSONResponse:
        results = {}
        for name, check in checks.items():
            try:
                results[name] = await check()
            except Exception:  # a failing check is a "not ready", never a 500
                results[name] = False
        ok = all(results.values())
        body = {"status": "ready" if ok else "not_ready", "checks": results}
        return JSONResponse(body, status_code=200 if ok else 503)

    @router.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router


def service_app(
    service: str, *, lifespan: Lifespan | None = None, description: str = ""
) -> tuple[FastAPI, ServiceMetrics]:
    """A FastAPI app with problem+json errors, request ids and metrics installed."""
    app = FastAPI(
        title=f"modelops-{service}", version="0.1.0", lifespan=lifespan, description=description
    )
    metrics = ServiceMetrics(service)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    install_error_handlers(app)
    return app, metrics

"""The HTTP kit every service shares: request ids, Prometheus metrics, health routes."""

import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

import structlog
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.datastructures import Headers
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelops_servicekit.errors import install_error_handlers

HealthCheck = Callable[[], Awaitable[bool]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
REQUEST_ID_HEADER = "x-request-id"
REQUEST_ID_BYTES = REQUEST_ID_HEADER.encode()


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


def _route_template(app: ASGIApp, scope: Scope) -> str:
    router = getattr(app, "router", None)
    for route in getattr(router, "routes", ()):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return str(getattr(route, "path", scope.get("path", "")))
    return "unmatched"


class RequestContextMiddleware:
    """Give every request an id (echoed in the response and bound to log lines) and time it.

    A pure ASGI middleware: it only wraps `send` to add the header and note the status, so
    streamed bodies (uploads and downloads) pass through without per-chunk overhead.
    """

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = Headers(scope=scope).get(REQUEST_ID_HEADER)
        request_id = header or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        raw_id = request_id.encode("latin-1")
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k != REQUEST_ID_BYTES]
                message = {**message, "headers": [*headers, (REQUEST_ID_BYTES, raw_id)]}
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
            route = _route_template(scope["app"], scope) if "app" in scope else "unmatched"
            labels = (self._metrics.service, scope["method"], route)
            self._metrics.latency.labels(*labels).observe(time.perf_counter() - started)
            self._metrics.requests.labels(*labels, str(status)).inc()


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

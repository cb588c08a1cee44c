"""The hot path: a raw ASGI handler for scoring routes (auth, split, limits, proxy, mirror, log).

No framework and no pydantic per request: a dict lookup for the endpoint, a bisect for the
split, a slot for the limit, one pooled upstream call, orjson only for error bodies.
"""

import itertools
import os
import random
import time
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from modelops_scoring_gateway.admission import Admission, Saturated
from modelops_scoring_gateway.keys import KeyBook, presented_key
from modelops_scoring_gateway.mirror import Mirror
from modelops_scoring_gateway.routing import RoutingTable, Target
from modelops_scoring_gateway.sampling import PredictionLog
from modelops_scoring_gateway.stats import Stats
from modelops_scoring_gateway.upstream import Answer, Upstreams, UpstreamTimeout

PROBLEM = b"application/problem+json"
PIN_HEADERS = (b"modelops-deployment", b"azureml-model-deployment")
SCORING_PREFIXES = ("/endpoints/", "/v2/models/")
"""Paths that are scoring requests (the rest belong to the service's API)."""
SCORING = {"score": "/score", "invocations": "/invocations"}
MISSING = object()
MAX_CACHED_ROUTES = 4096
Response = tuple[int, bytes, bytes, list[tuple[bytes, bytes]]]
"""(status, body, content type, further headers)"""
TITLES = {
    401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed", 413: "Content Too Large",
    429: "Too Many Requests", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout",
}  # fmt: skip


class Route:
    """What a scoring path asks for: an endpoint, what to call, maybe a pinned deployment."""

    __slots__ = ("endpoint", "kind", "pinned")

    def __init__(self, endpoint: str, kind: str, pinned: bytes | None = None) -> None:
        self.endpoint, self.kind, self.pinned = endpoint, kind, pinned

    def upstream_path(self, target: Target) -> str:
        if self.kind in SCORING:
            return SCORING[self.kind]
        if self.kind == "swagger":
            return "/swagger.json"
        base = f"/v2/models/{target.model_name}"
        return {"infer": base + "/infer", "ready": base + "/ready"}.get(self.kind, base)


def parse_route(path: str) -> Route | None:
    """`/endpoints/{e}/{score|invocations|swagger.json}`, `/v2/models/{e}[/versions/{d}]/...`."""
    parts = path.strip("/").split("/")
    if parts[0] == "endpoints" and len(parts) == 3:
        kind = {"score": "score", "invocations": "invocations", "swagger.json": "swagger"}
        return Route(parts[1], kind[parts[2]]) if parts[2] in kind else None
    if parts[:2] != ["v2", "models"] or len(parts) < 3:
        return None
    rest, pinned = parts[3:], None
    if rest[:1] == ["versions"] and len(rest) >= 2:
        pinned, rest = rest[1].encode(), rest[2:]
    if not rest:
        return Route(parts[2], "metadata", pinned)
    if len(rest) == 1 and rest[0] in ("infer", "ready"):
        return Route(parts[2], rest[0], pinned)
    return None


async def respond(
    send: Send, status: int, body: bytes, ctype: bytes, extra: list[tuple[bytes, bytes]]
) -> None:
    headers = [(b"content-type", ctype), (b"content-length", b"%d" % len(body)), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def problem(status: int, detail: str, path: str, **extra: Any) -> bytes:
    title = TITLES.get(status, "Error")
    doc = {"type": "about:blank", "title": title, "status": status, "detail": detail,
           "instance": path, **extra}  # fmt: skip
    return orjson.dumps(doc)


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None once it grows past `limit` bytes."""
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body if len(body) <= limit else None
    parts, size = [body], len(body)
    while message.get("more_body", False):
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


def _header(headers: list[tuple[bytes, bytes]], names: tuple[bytes, ...]) -> bytes | None:
    for name, value in headers:
        if name in names:
            return value
    return None


class Gateway:
    """Scoring requests in, model server answers out."""

    def __init__(
        self, table: RoutingTable, admission: Admission, stats: Stats, upstreams: Upstreams,
        keys: KeyBook, predictions: PredictionLog, mirror: Mirror, max_body_bytes: int,
    ) -> None:  # fmt: skip
        self.table, self.admission, self.stats = table, admission, stats
        self.upstreams, self.keys, self.predictions = upstreams, keys, predictions
        self.mirror, self.max_body = mirror, max_body_bytes
        self._routes: dict[str, Route | None] = {}
        self._rid_prefix = os.urandom(8).hex()  # request ids: this process's prefix + a count
        self._rids = itertools.count()

    def _route(self, path: str) -> Route | None:
        route = self._routes.get(path, MISSING)
        if route is MISSING:
            route = parse_route(path)
            if len(self._routes) < MAX_CACHED_ROUTES:
                self._routes[path] = route
        return route  # type: ignore[return-value]  # MISSING was replaced

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry (in-process clients and tests); servers use `handle` directly."""
        body = await read_body(receive, self.max_body) if scope["method"] == "POST" else b""
        status, payload, ctype, extra = await self.handle(
            scope["method"], scope["path"], scope["headers"], body
        )
        await respond(send, status, payload, ctype, extra)

    async def handle(
        self, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes | None
    ) -> Response:
        """One scoring request (body None: it was larger than max_body_bytes)."""
        started = time.perf_counter()
        route = self._route(path)
        if route is None:
            return 404, problem(404, "no such route", path), PROBLEM, []
        endpoint = self.table.endpoints.get(route.endpoint)
        if (endpoint is None or endpoint.auth_mode != "none") and not await self.keys.allows(
            endpoint, presented_key(headers)
        ):
            detail = "a valid key is required (Authorization: Bearer KEY or api-key: KEY)"
            return 401, problem(401, detail, path), PROBLEM, [(b"www-authenticate", b"Bearer")]
        assert endpoint is not None
        is_post = route.kind in ("score", "invocations", "infer")
        if is_post != (method == "POST"):
            return 405, problem(405, "method not allowed", path), PROBLEM, []
        pin = route.pinned or _header(headers, PIN_HEADERS)
        target = (
            self.table.pinned(endpoint, pin.decode("latin-1")) if pin else self.table.pick(endpoint)
        )
        if target is None or not target.routable:
            status = 404 if pin and target is None else 503
            detail = (
                "no such deployment in this endpoint" if status == 404 else "no healthy deployment"
            )
            return status, problem(status, detail, path), PROBLEM, []
        if not is_post:
            return await self._get(route, target)
        if body is None:
            detail = f"body larger than {self.max_body} bytes"
            return 413, problem(413, detail, path), PROBLEM, []
        given = _header(headers, (b"x-request-id",))
        rid = given.decode("latin-1") if given else f"{self._rid_prefix}{next(self._rids):016x}"
        ctype = _header(headers, (b"content-type",)) or b"application/json"
        answer = await self._forward(route, target, body, ctype, rid, path)
        out = [*target.answer_headers, (b"x-request-id", rid.encode())]
        if answer.status == 429 and not answer.upstream:
            out.append((b"retry-after", answer.content_type))
            answer = Answer(429, answer.body, PROBLEM)
        latency_ms = (time.perf_counter() - started) * 1000
        self.stats.deployment(endpoint.name, target.name).observe(answer.status, latency_ms)
        if target.data_collection and random.random() < target.sample_rate:  # noqa: S311
            self.predictions.offer(
                target.log_key, rid, time.time(), body, answer.body, latency_ms, answer.status,
                answer.json_bodies,
            )  # fmt: skip
        if endpoint.mirror and answer.upstream:
            self.mirror.maybe(endpoint, route, body, ctype, answer, latency_ms)
        return answer.status, answer.body, answer.content_type, out

    async def _forward(
        self, route: Route, target: Target, body: bytes, ctype: bytes, rid: str, path: str
    ) -> Answer:
        slots = self.admission.get(target.name) or self.admission.configure(
            target.name, target.capacity, target.max_queue_wait_s
        )
        try:
            if not slots.try_acquire():
                await slots.acquire()
        except Saturated as exc:
            self.stats.deployment(target.endpoint, target.name).rejected += 1
            detail = "the deployment is at capacity; retry later"
            return Answer(429, problem(429, detail, path), exc.retry_after.encode())
        try:
            return await self.upstreams.call(
                "POST", target.upstream_order(), route.upstream_path(target), body, ctype, rid,
                target.request_timeout_s,
            )  # fmt: skip
        except UpstreamTimeout:
            detail = f"the model did not answer within {target.request_timeout_s} s"
            return Answer(504, problem(504, detail, path), PROBLEM)
        except Exception as exc:
            return Answer(502, problem(502, f"upstream failed: {exc}", path), PROBLEM)
        finally:
            slots.release()

    async def _get(self, route: Route, target: Target) -> Response:
        """OpenAPI document and OIP metadata, proxied from a replica."""
        try:
            answer = await self.upstreams.call(
                "GET", target.upstream_order(), route.upstream_path(target), b"", b"", None, 10.0
            )
        except Exception as exc:  # any failure is a 502 for metadata
            return 502, problem(502, repr(exc), route.kind), PROBLEM, []
        out = [(b"modelops-deployment", target.name.encode())]
        return answer.status, answer.body, answer.content_type, out

"""The gateway's HTTP/1.1 connections: scoring requests straight to `Gateway.handle`, the rest
(health, metrics, the /v1 API) to the ASGI app.

uvicorn still runs the process (sockets, signals, lifespan, graceful shutdown); this is the
protocol it creates per connection (`uvicorn.run(http=...)`). A scoring request costs one parse
(httptools), one task and one write: no ASGI scope, no message dicts, no per-request objects of
uvicorn's. On a 2-core machine that is most of what separated the gateway from a bare proxy.

Each connection answers its requests in order (pipelined ones wait their turn), honours
`Expect: 100-continue`, `Connection: close` and HTTP/1.0, closes after `timeout_keep_alive`
idle seconds, and on shutdown finishes what it has started, then closes.
"""

import asyncio
import contextlib
import urllib.parse
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, Protocol, cast

import httptools
import structlog

from modelops_scoring_gateway.proxy import PROBLEM, SCORING_PREFIXES, Response, problem

log = structlog.get_logger(__name__)
STATUS_LINES = {s.value: b"HTTP/1.1 %d %s\r\n" % (s.value, s.phrase.encode()) for s in HTTPStatus}
ASGI = Callable[..., Any]
MAX_PIPELINED = 32
"""Requests of one connection in progress beyond which it stops reading until answers leave."""


class Scoring(Protocol):
    """What serves scoring paths (proxy.Gateway)."""

    async def handle(
        self, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes | None
    ) -> Response: ...


def status_line(status: int) -> bytes:
    return STATUS_LINES.get(status) or b"HTTP/1.1 %d Unknown\r\n" % status


def encode(response: Response, keep_alive: bool, head: bool = False) -> bytes:
    status, body, ctype, extra = response
    parts = [status_line(status), b"content-type: ", ctype,
             b"\r\ncontent-length: %d\r\n" % len(body)]  # fmt: skip
    for name, value in extra:
        parts += (name, b": ", value, b"\r\n")
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    if not head:
        parts.append(body)
    return b"".join(parts)


class Exchange:
    """One request on a connection, until its answer is written."""

    __slots__ = ("answer", "body", "fast", "headers", "keep_alive", "method", "path", "query",
                 "raw_path", "size")  # fmt: skip

    def __init__(self) -> None:
        self.method, self.path, self.raw_path, self.query = "GET", "/", b"", b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.size = 0
        self.keep_alive = True
        self.fast = False
        self.answer: bytes | None = None


class GatewayProtocol(asyncio.Protocol):
    """One client connection (uvicorn makes one per accept)."""

    def __init__(
        self, config: Any, server_state: Any, app_state: dict[str, Any],
        gateway: Callable[[], Scoring | None], max_body: int,
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:  # fmt: skip
        if not config.loaded:
            config.load()
        self.config, self.server_state, self.app_state = config, server_state, app_state
        self.app: ASGI = config.loaded_app
        self.gateway, self.max_body = gateway, max_body
        self.loop = _loop or asyncio.get_event_loop()
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.current = Exchange()
        self.queue: deque[Exchange] = deque()  # answered in this order
        self.closing = False
        self.lost = asyncio.Event()
        self.idle_timer: asyncio.TimerHandle | None = None
        self.idle_since = 0.0
        self.server: tuple[str, int] | None = None
        self.client: tuple[str, int] | None = None

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.server_state.connections.add(self)
        self.server = _address(transport.get_extra_info("sockname"))
        self.client = _address(transport.get_extra_info("peername"))
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server_state.connections.discard(self)
        self.closing = True
        self.lost.set()
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None
        self.queue.clear()

    def data_received(self, data: bytes) -> None:
        self._disarm_idle()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, "protocol upgrades are not supported here")
        except httptools.HttpParserError as exc:
            self._fail(400, f"invalid HTTP request: {exc}")

    # -- httptools callbacks ---------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.current = Exchange()

    def on_url(self, url: bytes) -> None:
        self.current.raw_path += url  # the whole target until the headers are in

    def on_header(self, name: bytes, value: bytes) -> None:
        self.current.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        ex = self.current
        ex.method = self.parser.get_method().decode("ascii")
        parsed = httptools.parse_url(ex.raw_path)
        ex.raw_path, ex.query = parsed.path, parsed.query or b""
        path = parsed.path.decode("latin-1")
        ex.path = urllib.parse.unquote(path) if "%" in path else path
        ex.keep_alive = self.parser.should_keep_alive()
        ex.fast = ex.path.startswith(SCORING_PREFIXES) and self.gateway() is not None
        if (b"expect", b"100-continue") in ex.headers and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        ex = self.current
        ex.size += len(body)
        if ex.size <= self.max_body or not ex.fast:
            ex.body.append(body)
        elif ex.body:
            ex.body.clear()  # too large: dropped as it comes, answered 413

    def on_message_complete(self) -> None:
        ex = self.current
        self.queue.append(ex)
        if len(self.queue) >= MAX_PIPELINED and self.transport is not None:
            self.transport.pause_reading()
        body = b"".join(ex.body) if ex.size <= self.max_body or not ex.fast else None
        ex.body = []
        if ex.fast:
            gateway = self.gateway()
            assert gateway is not None
            call = gateway.handle(ex.method, ex.path, ex.headers, body)
        else:
            call = self._asgi(ex, body or b"")
        task = self.loop.create_task(self._answer(ex, call))
        self.server_state.tasks.add(task)
        task.add_done_callback(self.server_state.tasks.discard)

    # -- answers ---------------------------------------------------------------------------
    async def _answer(self, ex: Exchange, call: Any) -> None:
        try:
            response: Response = await call
        except Exception as exc:
            log.exception("request_failed", path=ex.path)
            response = 500, problem(500, f"the gateway failed: {exc!r}", ex.path), PROBLEM, []
        keep = ex.keep_alive and not self.closing
        ex.keep_alive = keep
        ex.answer = encode(response, keep, head=ex.method == "HEAD")
        self._write_ready()

    def _write_ready(self) -> None:
        """Write the answers at the head of the queue that are ready (in request order)."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        paused = len(self.queue) >= MAX_PIPELINED
        while self.queue and self.queue[0].answer is not None:
            ex = self.queue.popleft()
            transport.write(cast(bytes, ex.answer))
            self.server_state.total_requests += 1
            if not ex.keep_alive:
                transport.close()
                return
        if paused and len(self.queue) < MAX_PIPELINED:
            transport.resume_reading()
        if not self.queue:
            if self.closing:
                transport.close()
            else:
                self._arm_idle()

    async def _asgi(self, ex: Exchange, body: bytes) -> Response:
        """Run the ASGI app for one request and collect its answer (the app's routes answer
        small bodies: health, metrics, the /v1 API)."""
        scope = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1", "server": self.server, "client": self.client,
            "scheme": "http", "root_path": "", "method": ex.method, "path": ex.path,
            "raw_path": ex.raw_path, "query_string": ex.query, "headers": ex.headers,
            "state": self.app_state.copy(),
        }  # fmt: skip
        sent = False
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await self.lost.wait()  # nothing more: the app only learns of a disconnect
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        headers: list[tuple[bytes, bytes]] = [(k.lower(), v) for k, v in start.get("headers", [])]
        ctype = next((v for k, v in headers if k == b"content-type"), b"text/plain")
        extra = [(k, v) for k, v in headers if k not in (b"content-type", b"content-length")]
        return int(start.get("status", 500)), b"".join(chunks), ctype, extra

    # -- connection ------------------------------------------------------------------------
    def _fail(self, status: int, detail: str) -> None:
        if self.transport is not None:
            answer: Response = (status, problem(status, detail, ""), PROBLEM, [])
            self.transport.write(encode(answer, keep_alive=False))
            self.transport.close()

    def _arm_idle(self) -> None:
        """Idle from now: one timer per connection, re-armed when it fires early (no timer
        object per request)."""
        self.idle_since = self.loop.time()
        if self.idle_timer is None:
            self.idle_timer = self.loop.call_later(self.config.timeout_keep_alive, self._idle_out)

    def _disarm_idle(self) -> None:
        self.idle_since = 0.0

    def _idle_out(self) -> None:
        self.idle_timer = None
        if self.closing or self.transport is None:
            return
        keep = self.config.timeout_keep_alive
        if self.idle_since and not self.queue:
            left = self.idle_since + keep - self.loop.time()
            if left <= 0:
                self.transport.close()
                return
            self.idle_timer = self.loop.call_later(left, self._idle_out)
        else:  # busy: look again a whole period later
            self.idle_timer = self.loop.call_later(keep, self._idle_out)

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: finish what was started, then close."""
        self.closing = True
        if not self.queue and self.transport is not None:
            self.transport.close()

    def pause_writing(self) -> None:
        pass  # answers are whole and small; the transport buffers them

    def resume_writing(self) -> None:
        pass


def _address(info: Any) -> tuple[str, int] | None:
    with contextlib.suppress(TypeError, ValueError, IndexError):
        return str(info[0]), int(info[1])
    return None

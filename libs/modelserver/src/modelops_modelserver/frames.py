"""The gateway's hop: scoring calls as length-prefixed frames, many in flight on one connection.

HTTP/1.1 costs a model server a read, a parse and a write per request, and allows one request per
connection at a time. The scoring gateway instead sends each request as a frame on one long-lived
connection per replica; requests that arrive together are read together, and the answers written
in one batch per event-loop turn. Same routes, same handlers, same answers as HTTP
(`ModelServerApp.post`); the gateway finds the port at `GET /modelops/frames`.

Request frame:  !IIHH (body length, request id, path length, content-type length), path,
                content type, body.
Answer frame:   !IIHBH (body length, request id, status, flags, content-type length), content
                type, body. Flag 1: the request was parsed as strict JSON (`modelops-bodies`).
Id 0 from the server is GOAWAY: it is stopping; answers to requests already sent still come,
and the client sends nothing more on this connection (the server closes it once they are out).
"""

import asyncio
import logging
import struct
import time
from collections.abc import Coroutine
from typing import Any, Protocol, cast

from modelops_modelserver.replies import Reply, error_reply

PROTOCOL = "modelops-frames/1"
REQUEST = struct.Struct("!IIHH")
ANSWER = struct.Struct("!IIHBH")
GOAWAY_ID = 0
CHECKED = 1
LINGER_S = 0.05
"""After GOAWAY, how long frames already sent by the gateway may still arrive."""
log = logging.getLogger("modelops_modelserver")


class Scoring(Protocol):
    """What frames call: the app's scoring entry point and its metrics."""

    @property
    def inline(self) -> bool:
        """The model runs on the event loop: a call completes without suspending."""
        ...

    @property
    def max_body_bytes(self) -> int: ...

    def post(
        self, path: str, ctype: str | None, body: bytes
    ) -> Coroutine[Any, Any, tuple[str, Reply, bool]]: ...

    def observe(self, route: str, status: int, started: float) -> None: ...


class FrameConnection(asyncio.Protocol):
    """One gateway connection: frames in, answers out in one write per loop turn."""

    def __init__(self, app: Scoring, server: "FrameServer") -> None:
        self.app, self.server = app, server
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.out: list[bytes] = []
        self.flush_scheduled = False
        self.reading = False
        self.tasks: set[asyncio.Task[None]] = set()
        self.frames = 0
        """Request frames read so far."""

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        for task in self.tasks:
            task.cancel()

    def pause_writing(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None:
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        self.reading = True  # inline answers leave in one write at the end of this read
        try:
            self._read(data)
        finally:
            self.reading = False
        if self.out and not self.flush_scheduled:
            self._flush()

    def _read(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        pos, size = 0, len(buf)
        while size - pos >= REQUEST.size:
            length, rid, path_len, ctype_len = REQUEST.unpack_from(buf, pos)
            start = pos + REQUEST.size
            end = start + path_len + ctype_len + length
            if length > self.app.max_body_bytes:
                self._answer(rid, error_reply(413, "body too large"), False)
                self._fatal("a frame larger than the body limit")
                return
            if end > size:
                break
            path = buf[start : start + path_len].decode("latin-1")
            ctype = buf[start + path_len : start + path_len + ctype_len].decode("latin-1")
            self.frames += 1
            self._call(rid, path, ctype or None, bytes(buf[end - length : end]))
            pos = end
        del buf[:pos]

    # -- calls -----------------------------------------------------------------------------
    def _call(self, rid: int, path: str, ctype: str | None, body: bytes) -> None:
        started = time.perf_counter()
        call = self.app.post(path, ctype, body)
        if self.app.inline:  # completes without suspending: no task per request
            try:
                call.send(None)
            except StopIteration as done:
                route, reply, checked = done.value
                self._answer(rid, reply, checked)
                self.app.observe(route, reply[0], started)
                return
            except Exception as exc:
                log.exception("frame_call_failed")
                self._answer(rid, error_reply(500, f"the server failed: {exc!r}"), False)
                return
            call.close()  # suspended after all (not expected inline): run it as a task instead
            call = self.app.post(path, ctype, body)
        task = asyncio.get_running_loop().create_task(self._run(rid, call, started))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(
        self, rid: int, call: Coroutine[Any, Any, tuple[str, Reply, bool]], started: float
    ) -> None:
        try:
            route, reply, checked = await call
        except Exception as exc:
            log.exception("frame_call_failed")
            self._answer(rid, error_reply(500, f"the server failed: {exc!r}"), False)
            return
        self._answer(rid, reply, checked)
        self.app.observe(route, reply[0], started)

    def _answer(self, rid: int, reply: Reply, checked: bool) -> None:
        status, payload, ctype = reply
        flags = CHECKED if checked and status == 200 else 0
        self.out += (ANSWER.pack(len(payload), rid, status, flags, len(ctype)), ctype, payload)
        if not self.flush_scheduled and not self.reading:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self.flush_scheduled = False
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self.out))
        self.out.clear()

    def _fatal(self, why: str) -> None:
        log.warning("frame_connection_closed: %s", why)
        self._flush()
        if self.transport is not None:
            self.transport.close()

    def goaway(self) -> None:
        """Tell the client to send nothing more here (it closes once its answers are in)."""
        self.out.append(ANSWER.pack(0, GOAWAY_ID, 0, 0, 0))
        self._flush()


class FrameServer:
    """The frames listener of one worker, beside its HTTP port."""

    def __init__(self, app: Scoring) -> None:
        self.app = app
        self.connections: set[FrameConnection] = set()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: FrameConnection(self.app, self), host, port, backlog=128
        )
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self, grace_s: float) -> None:
        """Stop accepting and GOAWAY every client; once the calls in progress are answered (at
        most `grace_s`) and a short linger has let frames already in transit arrive and be
        answered too, close. A request that still crosses the close is retried by the gateway."""
        if self.server is None:
            return
        self.server.close()
        for conn in list(self.connections):
            conn.goaway()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        while loop.time() < deadline:  # until answered, and nothing more came in a linger
            calls = set().union(*(c.tasks for c in self.connections))
            if calls:
                await asyncio.wait(calls, timeout=deadline - loop.time())
            seen = sum(c.frames for c in self.connections)
            await asyncio.sleep(LINGER_S)
            if seen == sum(c.frames for c in self.connections) and not any(
                c.tasks for c in self.connections
            ):
                break
        for conn in list(self.connections):
            conn._flush()
            if conn.transport is not None:
                conn.transport.close()
        await self.server.wait_closed()

"""Scoring calls over a model server's frames hop (modelops_modelserver.frames), HTTP otherwise.

One connection per replica carries every request in flight to it, each a length-prefixed frame;
the frames of one event-loop turn leave in one write, and the answers come back batched too. On
a 2-core machine this halves the CPU a proxied request costs the model server and the gateway
together (bench/bench_gateway.py). A replica's frames port is found once, at GET
/modelops/frames; until then, for servers without it, and for GETs, requests go over HTTP
(WirePool). A link lost before its answers came is retried once over HTTP; a refused frames
port is looked up again (a restarted server may listen elsewhere).
"""

import asyncio
import contextlib
import struct
import time
from typing import cast

import orjson

from modelops_scoring_gateway.wire import SWEEP_S, ConnectionClosed, Reply, WirePool

PROTOCOL = "modelops-frames/1"
REQUEST = struct.Struct("!IIHH")
ANSWER = struct.Struct("!IIHBH")
GOAWAY_ID = 0
CHECKED = 1
PROBE_EVERY_S = 5.0
"""A replica without a known frames port is asked again at most this often."""


class FrameLink(asyncio.Protocol):
    """One connection to a replica's frames port; many requests in flight, matched by id."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.out: list[bytes] = []
        self.flush_scheduled = False
        self.waiting: dict[int, tuple[asyncio.Future[Reply], float]] = {}
        self.next_id = 0
        self.draining = False
        self.closed = False

    @property
    def usable(self) -> bool:
        return not (self.closed or self.draining)

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiting, self.waiting = self.waiting, {}
        for future, _ in waiting.values():
            if not future.done():
                future.set_exception(ConnectionClosed(repr(exc) if exc else "frames link closed"))

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        pos, size = 0, len(buf)
        while size - pos >= ANSWER.size:
            length, rid, status, flags, ctype_len = ANSWER.unpack_from(buf, pos)
            start = pos + ANSWER.size
            end = start + ctype_len + length
            if end > size:
                break
            pos = end
            if rid == GOAWAY_ID:
                self.draining = True
                continue
            entry = self.waiting.pop(rid, None)
            if entry is not None and not entry[0].done():
                ctype = bytes(buf[start : start + ctype_len])
                body = bytes(buf[start + ctype_len : end])
                entry[0].set_result((status, body, ctype, bool(flags & CHECKED)))
        del buf[:pos]
        if self.draining and not self.waiting:
            self.close()

    # -- use -------------------------------------------------------------------------------
    def request(
        self, path: bytes, ctype: bytes, body: bytes, deadline: float
    ) -> "asyncio.Future[Reply]":
        self.next_id = self.next_id % 0xFFFFFFFF + 1  # never GOAWAY_ID
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Reply] = loop.create_future()
        self.waiting[self.next_id] = (future, deadline)
        self.out += (REQUEST.pack(len(body), self.next_id, len(path), len(ctype)), path, ctype,
                     body)  # fmt: skip
        if not self.flush_scheduled:  # the rest of this loop turn joins this write
            self.flush_scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self.flush_scheduled = False
        if self.transport is not None and not self.closed:
            self.transport.write(b"".join(self.out))
        self.out.clear()

    def expire(self, now: float) -> None:
        """Fail requests past their deadline (a late answer is then dropped by its id)."""
        for rid, (future, deadline) in list(self.waiting.items()):
            if deadline <= now:
                del self.waiting[rid]
                if not future.done():
                    future.set_exception(TimeoutError("the model server did not answer in time"))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class FramePool:
    """Frames links per replica (`http://host:port`), HTTP (WirePool) where there are none."""

    def __init__(self, wire: WirePool) -> None:
        self.wire = wire
        self._links: dict[str, FrameLink] = {}
        self._ports: dict[str, int | None] = {}
        self._asked: dict[str, float] = {}
        self._pending: dict[str, asyncio.Task[None]] = {}
        self._sweeper: asyncio.Task[None] | None = None

    async def request(
        self, base: str, method: str, path: str, body: bytes, ctype: bytes, rid: str | None,
        timeout: float,
    ) -> Reply:  # fmt: skip
        """One call: over the replica's frames link when it has one, else HTTP."""
        link = self._links.get(base)
        if method == "POST" and link is not None and link.usable:
            deadline = asyncio.get_running_loop().time() + timeout
            try:
                return await link.request(path.encode(), ctype, body, deadline)
            except ConnectionClosed:  # lost before the answer: once more, over HTTP
                pass
        elif method == "POST":
            self._prepare(base)
        headers = {"Content-Type": ctype.decode("latin-1")} if ctype else {}
        if rid is not None:
            headers["x-request-id"] = rid
        return await self.wire.request(base, method, path, body, headers, timeout)

    def _prepare(self, base: str) -> None:
        """In the background: find the replica's frames port (at most every PROBE_EVERY_S),
        then connect; requests go over HTTP meanwhile."""
        if base in self._pending:
            return
        link = self._links.get(base)
        if link is not None and not link.usable:
            del self._links[base]
            if link.draining:  # the server is stopping: a new one may listen elsewhere
                self._ports.pop(base, None)
        asked = self._asked.get(base, -PROBE_EVERY_S)
        if self._ports.get(base) is None and time.monotonic() - asked < PROBE_EVERY_S:
            return
        loop = asyncio.get_running_loop()
        task = loop.create_task(self._open(base))
        self._pending[base] = task
        task.add_done_callback(lambda _: self._pending.pop(base, None))
        if self._sweeper is None:
            self._sweeper = loop.create_task(self._sweep())

    async def _open(self, base: str) -> None:
        with contextlib.suppress(Exception):  # any failure: HTTP stays, asked again later
            port = self._ports.get(base)
            if port is None:
                self._asked[base] = time.monotonic()
                status, body, _, _ = await self.wire.request(
                    base, "GET", "/modelops/frames", b"", {}, 2.0
                )
                info = orjson.loads(body) if status == 200 else {}
                if info.get("protocol") != PROTOCOL:
                    return
                port = self._ports[base] = int(info["port"])
            host = base.split("://", 1)[-1].rstrip("/").rpartition(":")[0]
            loop = asyncio.get_running_loop()
            try:
                async with asyncio.timeout(2.0):
                    _, link = await loop.create_connection(FrameLink, host, port)
            except OSError:
                self._ports.pop(base, None)  # restarted elsewhere, or not reachable from here
                raise
            self._links[base] = link

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SWEEP_S)
            now = loop.time()
            for link in list(self._links.values()):
                if link.waiting:
                    link.expire(now)

    def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for task in self._pending.values():
            task.cancel()
        for link in self._links.values():
            link.close()
        self._links.clear()
        self.wire.close()

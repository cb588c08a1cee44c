"""The gateway's HTTP protocol under a real uvicorn server: scoring paths to `handle`, the rest to
the ASGI app, pipelined answers in order, 100-continue, the body limit, Connection: close, HEAD,
malformed requests, and a graceful shutdown."""

import asyncio
import functools
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from modelops_scoring_gateway.proxy import Response
from modelops_scoring_gateway.server import GatewayProtocol
from modelops_testkit.processes import free_port


class FakeGateway:
    """Answers scoring requests with what it saw; `/endpoints/slow/score` takes 0.2 s."""

    def __init__(self) -> None:
        self.bodies: list[bytes | None] = []

    async def handle(
        self, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes | None
    ) -> Response:
        self.bodies.append(body)
        if "slow" in path:
            await asyncio.sleep(0.2)
        seen = {"method": method, "path": path, "size": None if body is None else len(body),
                "key": dict(headers).get(b"api-key", b"").decode()}  # fmt: skip
        return 200, json.dumps(seen).encode(), b"application/json", [(b"x-seen", b"1")]


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = (await receive())["body"]
    answer = json.dumps({"path": scope["path"], "query": scope["query_string"].decode(),
                         "body": body.decode()}).encode()  # fmt: skip
    headers = [(b"content-type", b"application/json"), (b"x-app", b"yes")]
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


Served = tuple[int, FakeGateway, uvicorn.Server]


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    gateway, port = FakeGateway(), free_port()
    protocol = functools.partial(GatewayProtocol, gateway=lambda: gateway, max_body=1000)
    config = uvicorn.Config(asgi_app, host="127.0.0.1", port=port, http=protocol,  # type: ignore[arg-type]
                            log_config=None, timeout_keep_alive=1)  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield port, gateway, server
    server.should_exit = True
    await task


async def exchange(port: int, raw: bytes, answers: int = 1) -> list[tuple[bytes, bytes]]:
    """Send raw bytes, read `answers` responses: (head, body) each."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    out = []
    for _ in range(answers):
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))  # fmt: skip
        out.append((head, await reader.readexactly(length)))
    writer.close()
    return out


def post(path: str, body: bytes, *extra: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: gw", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def test_scoring_to_handle_the_rest_to_the_app_pipelined_in_order(served: Served) -> None:
    port, _, _ = served
    raw = (post("/endpoints/slow/score", b"[1]", "api-key: k1")
           + post("/v1/things?x=1", b"hello") + post("/endpoints/fast/score", b"[22]"))  # fmt: skip
    (slow_head, slow), (app_head, app), (_, fast) = await exchange(port, raw, 3)
    assert slow_head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"x-seen: 1" in slow_head
    assert json.loads(slow) == {"method": "POST", "path": "/endpoints/slow/score", "size": 3,
                                "key": "k1"}  # fmt: skip
    assert app_head.startswith(b"HTTP/1.1 201 Created\r\n")
    assert b"x-app: yes" in app_head
    assert json.loads(app) == {"path": "/v1/things", "query": "x=1", "body": "hello"}
    assert json.loads(fast)["size"] == 4


async def test_continue_the_body_limit_close_and_head(served: Served) -> None:
    port, _, _ = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /endpoints/e/score HTTP/1.1\r\nHost: gw\r\nContent-Length: 2\r\n"
                 b"Expect: 100-continue\r\n\r\n")  # fmt: skip
    assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(b"{}")
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
    writer.close()
    ((_, big),) = await exchange(port, post("/endpoints/e/score", b"x" * 5000))
    assert json.loads(big)["size"] is None  # too large: handle answers 413 for it
    ((head, _),) = await exchange(port, post("/endpoints/e/score", b"{}", "Connection: close"))
    assert b"connection: close" in head
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"HEAD /v2/models/e HTTP/1.1\r\nHost: gw\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    assert b"content-length: " in head
    writer.write(b"GET /endpoints/e/swagger.json HTTP/1.1\r\nHost: gw\r\n\r\n")
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")  # HEAD sent no body
    writer.close()


async def test_malformed_requests_and_shutdown(served: Served) -> None:
    port, _, server = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"NOT HTTP AT ALL\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 Bad Request")
    assert await reader.read() is not None  # closed after the body
    writer.close()
    idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", port)
    idle_writer.write(post("/endpoints/e/score", b"{}"))
    await idle_reader.readuntil(b"\r\n\r\n")
    server.should_exit = True  # graceful: the idle keep-alive connection is closed
    await asyncio.wait_for(idle_reader.read(), 5)
    idle_writer.close()

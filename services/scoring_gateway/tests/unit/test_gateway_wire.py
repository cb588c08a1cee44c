"""The keep-alive client against a tiny real server: reuse, a server-closed idle connection,
the model server's JSON mark, a refused port, and a timeout that closes the connection."""

import asyncio

import pytest

from modelops_scoring_gateway.wire import ConnectionClosed, WirePool

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]"
CHECKED = ANSWER.replace(b"\r\n\r\n", b"\r\nModelOps-Bodies: json\r\n\r\n")


async def serve(
    delay: float = 0.0, close_after: bool = False, answer: bytes = ANSWER
) -> tuple[asyncio.Server, str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await exchange(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed the connection
        finally:
            writer.close()

    async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length"))  # fmt: skip
            await reader.readexactly(length)
            await asyncio.sleep(delay)
            writer.write(answer)
            await writer.drain()
            if close_after:
                return

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


async def test_keep_alive_reuse_and_server_closed_idle_connections() -> None:
    server, base = await serve(close_after=True)
    pool = WirePool()
    for _ in range(3):  # each idle connection was closed by the server: replaced transparently
        answer = await pool.request(base, "POST", "/score", b"{}", {}, 2.0)
        assert answer == (200, b"[]", b"application/json", False)
        await asyncio.sleep(0.05)
    server.close()
    server, base = await serve()
    for _ in range(3):
        assert (await pool.request(base, "POST", "/score", b"{}", {}, 2.0))[0] == 200
    assert len(pool._idle[base]) == 1  # one connection, reused
    pool.close()
    server.close()
    await server.wait_closed()


async def test_the_model_servers_json_mark_is_read_per_answer() -> None:
    server, base = await serve(answer=CHECKED)
    pool = WirePool()
    assert (await pool.request(base, "POST", "/score", b"{}", {}, 2.0))[3] is True
    server.close()
    await server.wait_closed()
    server, base = await serve()
    assert (await pool.request(base, "POST", "/score", b"{}", {}, 2.0))[3] is False
    pool.close()
    server.close()
    await server.wait_closed()


async def test_refused_and_timeout() -> None:
    pool = WirePool()
    with pytest.raises(ConnectionRefusedError):
        await pool.request("http://127.0.0.1:1", "POST", "/", b"", {}, 1.0)
    server, base = await serve(delay=0.5)
    with pytest.raises(TimeoutError):
        await pool.request(base, "POST", "/", b"", {}, 0.1)
    assert not pool._idle[base]  # the timed-out connection is not reused
    server.close()
    await server.wait_closed()
    assert ConnectionClosed.__doc__

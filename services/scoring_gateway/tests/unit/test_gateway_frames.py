"""The frames hop against real model server processes: found and used after the first request,
the same answers as HTTP with many in flight, HTTP kept for a server without frames, a deadline
that fails one request and not the link, and GOAWAY when a server stops."""

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modelops_modelserver import frames as server_frames
from modelops_scoring_gateway import frames
from modelops_scoring_gateway.frames import FrameLink, FramePool
from modelops_scoring_gateway.wire import WirePool

JSON = b"application/json"
ROW = b'{"data": [[1.0, 2.0]]}'


@pytest.fixture
async def pool() -> Any:
    frames = FramePool(WirePool())
    yield frames
    frames.close()


async def test_found_after_the_first_request_then_used_with_many_in_flight(
    model_servers: Any, onnx_model: Callable[..., Path], pool: FramePool, eventually: Any
) -> None:
    base = model_servers.start(onnx_model(scale=2.0))
    first = await pool.request(base, "POST", "/score", ROW, JSON, None, 5.0)  # over HTTP
    await eventually(lambda: base in pool._links)
    answers = await asyncio.gather(
        *(pool.request(base, "POST", "/score", b'{"data": [[%d.0, 1.0]]}' % i, JSON, None, 5.0)
          for i in range(200))
    )  # fmt: skip
    assert first == (200, b"[[2.0,4.0]]", b"application/json", True)
    assert [a[1] for a in answers] == [b"[[%d.0,2.0]]" % (2 * i) for i in range(200)]
    assert {(a[0], a[3]) for a in answers} == {(200, True)}
    assert (await pool.request(base, "POST", "/score", b"{oops", JSON, None, 5.0))[0] == 400


async def test_a_server_without_frames_stays_on_http(
    model_servers: Any, onnx_model: Callable[..., Path], pool: FramePool
) -> None:
    base = model_servers.start(onnx_model(scale=3.0), frames="false")
    for _ in range(3):
        status, body, _, _ = await pool.request(base, "POST", "/score", ROW, JSON, None, 5.0)
        assert (status, body) == (200, b"[[3.0,6.0]]")
        await asyncio.sleep(0.1)
    assert base not in pool._links


async def linked_slow_server(
    model_servers: Any, folder: Path, pool: FramePool, eventually: Any
) -> tuple[str, FrameLink]:
    """A slow script model on threads, and the pool's frames link to it."""
    base = model_servers.start(folder, execution="thread", max_concurrency=8)
    await pool.request(base, "POST", "/score", b'{"data": 1}', JSON, None, 5.0)
    await eventually(lambda: base in pool._links)
    return base, pool._links[base]


def test_both_sides_speak_the_same_frames() -> None:
    """The model server's side of the protocol (its own package, kept free of the platform's
    libraries) and this one agree on every constant."""
    for name in ("PROTOCOL", "GOAWAY_ID", "CHECKED"):
        assert getattr(frames, name) == getattr(server_frames, name), name
    assert (frames.REQUEST.format, frames.ANSWER.format) == (
        server_frames.REQUEST.format, server_frames.ANSWER.format)  # fmt: skip


async def test_a_deadline_fails_one_request_not_the_link(
    model_servers: Any, slow_model: Callable[..., Path], pool: FramePool, eventually: Any
) -> None:
    base, link = await linked_slow_server(model_servers, slow_model(delay_ms=300), pool, eventually)
    with pytest.raises(TimeoutError):
        await pool.request(base, "POST", "/score", b'{"data": 2}', JSON, None, 0.1)
    status, _, _, _ = await pool.request(base, "POST", "/score", b'{"data": 3}', JSON, None, 5.0)
    assert status == 200
    assert pool._links[base] is link
    assert link.usable


async def test_goaway_when_the_server_stops_answers_in_flight_then_http(
    model_servers: Any, slow_model: Callable[..., Path], pool: FramePool, eventually: Any
) -> None:
    base, link = await linked_slow_server(model_servers, slow_model(delay_ms=500), pool, eventually)
    calls = [
        asyncio.ensure_future(
            pool.request(base, "POST", "/score", b'{"data": 2}', JSON, None, 10.0)
        )
        for _ in range(4)
    ]
    await asyncio.sleep(0.2)
    proc = model_servers.procs[-1]
    os.kill(proc.pid, signal.SIGTERM)
    answers = await asyncio.gather(*calls)
    assert {a[0] for a in answers} == {200}
    await eventually(lambda: link.closed)  # GOAWAY, answers in: the gateway closed it
    assert await asyncio.to_thread(proc.wait, 30) in (0, -signal.SIGTERM)
    with pytest.raises(ConnectionRefusedError):  # HTTP refused: the caller tries the next
        await pool.request(base, "POST", "/score", b'{"data": 3}', JSON, None, 2.0)

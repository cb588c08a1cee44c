"""The gateway's frames hop against the server as a real process: the same answers as HTTP for
many requests in one write, the JSON mark, discovery, one worker only, and GOAWAY on SIGTERM
with the request in flight still answered."""

import asyncio
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from modelops_modelserver.frames import ANSWER, GOAWAY_ID, PROTOCOL, REQUEST

if TYPE_CHECKING:
    from conftest import StartServer

Answer = tuple[int, int, bytes, bytes]  # (status, flags, content type, body)


def frame(rid: int, path: str, ctype: str, body: bytes) -> bytes:
    head = REQUEST.pack(len(body), rid, len(path), len(ctype))
    return head + path.encode() + ctype.encode() + body


async def read_answers(reader: asyncio.StreamReader, n: int) -> dict[int, Answer]:
    """n frames by id (GOAWAY included, under id 0)."""
    answers: dict[int, Answer] = {}
    while len(answers) < n:
        length, rid, status, flags, ctype_len = ANSWER.unpack(await reader.readexactly(ANSWER.size))
        ctype = await reader.readexactly(ctype_len)
        answers[rid] = (status, flags, ctype, await reader.readexactly(length))
    return answers


def frames_port(url: str) -> int:
    info = httpx.get(url + "/modelops/frames").json()
    assert info["protocol"] == PROTOCOL
    return int(info["port"])


async def test_frames_answer_as_http_does_many_per_write(
    iris_dir: Path, start_server: "StartServer"
) -> None:
    proc, url = start_server(iris_dir)
    try:
        port = frames_port(url)
        row = b'{"data": [[5.1, 3.5, 1.4, 0.2]]}'
        csv = b"sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n"
        calls = [
            ("/score", "application/json", row),
            ("/invocations", "text/csv", csv),
            ("/v2/models/iris/infer", "application/json",
             b'{"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32",'
             b' "data": [5.1, 3.5, 1.4, 0.2]}]}'),
            ("/score", "application/json", b"{not json"),
            ("/nowhere", "", b"{}"),
        ] * 20  # fmt: skip
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"".join(frame(i + 1, *call) for i, call in enumerate(calls)))
        answers = await read_answers(reader, len(calls))
        writer.close()
        async with httpx.AsyncClient(base_url=url) as http:
            for i, (path, ctype, body) in enumerate(calls[:5]):
                over_http = await http.post(path, content=body, headers={"content-type": ctype})
                status, flags, got_ctype, got = answers[i + 1]
                assert (status, got) == (over_http.status_code, over_http.content), path
                assert got_ctype.decode() == over_http.headers["content-type"]
                assert bool(flags & 1) == ("modelops-bodies" in over_http.headers), path
        assert [answers[i + 1][0] for i in range(5)] == [200, 200, 200, 400, 404]
        assert all(answers[i + 1][:2] == answers[i % 5 + 1][:2] for i in range(len(calls)))
    finally:
        proc.terminate()
        proc.wait(30)


def test_several_workers_serve_no_frames(iris_dir: Path, start_server: "StartServer") -> None:
    proc, url = start_server(iris_dir, "--workers", "2")
    try:
        assert httpx.get(url + "/modelops/frames").status_code == 404
    finally:
        proc.terminate()
        proc.wait(30)


async def test_sigterm_sends_goaway_and_still_answers_what_is_in_flight(
    tmp_path: Path, start_server: "StartServer"
) -> None:
    script = "import time\ndef run(data):\n    time.sleep(1.0)\n    return {'slept': data}\n"
    (tmp_path / "score.py").write_text(script)
    (tmp_path / "modelserver.json").write_text('{"name": "slow", "entry_script": "score.py"}')
    proc, url = start_server(tmp_path)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", frames_port(url))
        writer.write(frame(7, "/score", "application/json", b'{"data": 1}'))
        await writer.drain()
        await asyncio.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        answers = await read_answers(reader, 2)
        assert set(answers) == {GOAWAY_ID, 7}
        assert answers[7][:2] == (200, 1)  # parsed as JSON: marked
        assert answers[7][3] == b'{"slept":1}'
        writer.close()  # the client closes once its answers are in: the server then exits
        assert await asyncio.to_thread(proc.wait, 30) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

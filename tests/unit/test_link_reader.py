"""The SDK's reader of signed store links: one idle connection kept per store, a new one when
the store closed it, None when nothing listens. Against a local HTTP/1.1 server."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from modelops_client.transfer import LinkReader
from modelops_testkit.processes import free_port

BODY = b"weights" * 1000


class Store(ThreadingHTTPServer):
    daemon_threads = True
    connections = 0
    close_after_reply = False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Store

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)
        # as a store whose keep-alive ran out: closed without saying so
        self.close_connection = self.server.close_after_reply

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def store() -> Iterator[Store]:
    server = Store(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def read(reader: LinkReader, url: str) -> bytes:
    got = reader.get(url)
    assert got is not None
    conn, resp = got
    try:
        return resp.read()
    finally:
        reader.release(url, conn, resp)


def test_one_connection_serves_one_link_after_another(store: Store) -> None:
    reader = LinkReader(10.0)
    url = f"http://127.0.0.1:{store.server_port}/bucket/key?X-Amz-Signature=abc"
    assert [read(reader, url) for _ in range(3)] == [BODY] * 3
    assert store.connections == 1
    reader.close()


def test_a_connection_the_store_closed_while_idle_is_replaced(store: Store) -> None:
    store.close_after_reply = True
    reader = LinkReader(10.0)
    url = f"http://127.0.0.1:{store.server_port}/bucket/key"
    assert [read(reader, url) for _ in range(3)] == [BODY] * 3
    assert store.connections == 3
    reader.close()


def test_a_store_nobody_listens_on_is_unreachable() -> None:
    assert LinkReader(10.0).get(f"http://127.0.0.1:{free_port()}/bucket/key") is None

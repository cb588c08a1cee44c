"""A webhook receiver on 127.0.0.1: verifies each delivery's Standard Webhooks signature,
parses the CloudEvent, and records (and shows) every event as it arrives."""

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


@dataclass(frozen=True)
class Received:
    """One verified delivery."""

    at: float
    """When it arrived (monotonic clock)."""
    time: str
    """When it happened (the CloudEvent's time, RFC 3339)."""
    type: str
    data: dict[str, Any]
    webhook_id: str


@dataclass
class Receiver:
    """Collects verified events; `on_event` is called for each new one (not for redeliveries)."""

    on_event: Callable[[Received], None] = lambda _: None
    events: list[Received] = field(default_factory=list)
    rejected: int = 0
    secret: str | None = None
    _seen: set[str] = field(default_factory=set)
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = receiver.accept(body, {k.lower(): v for k, v in self.headers.items()})
                self.send_response(status)
                self.end_headers()

            def log_message(self, *_: Any) -> None:  # quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def accept(self, body: bytes, headers: dict[str, str]) -> int:
        if self.secret is None:
            return 503  # not subscribed yet: the notifier retries
        try:
            Webhook(self.secret).verify(body, headers)
        except Exception:  # a bad signature: refused, counted
            self.rejected += 1
            return 401
        envelope = json.loads(body)
        event = Received(
            time.monotonic(),
            envelope["time"],
            envelope["type"],
            envelope["data"],
            headers["webhook-id"],
        )
        with self._lock:
            if event.webhook_id in self._seen:
                return 204
            self._seen.add(event.webhook_id)
            self.events.append(event)
            self._lock.notify_all()
        self.on_event(event)
        return 204

    def wait(
        self,
        type_: str,
        where: Callable[[dict[str, Any]], bool] = lambda _: True,
        timeout_s: float = 300.0,
    ) -> Received:
        """The first event of the type that matches, waiting for it."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while True:
                for event in self.events:
                    if event.type == type_ and where(event.data):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {type_} event within {timeout_s:.0f} s")
                self._lock.wait(min(left, 1.0))

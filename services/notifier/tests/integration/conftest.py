"""A real local webhook receiver: verifies Standard Webhooks signatures, parses CloudEvents."""

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from cloudevents.v1.http import from_http
from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.requests import Request
from starlette.responses import Response

from modelops_contracts.events import ModelVersionRegistered
from modelops_contracts.types import Framework
from modelops_notifier.app import create_app
from modelops_notifier.settings import DeliverySettings, NotifierSettings
from modelops_servicekit.bus import Bus, NatsEventPublisher, make_broker
from modelops_servicekit.settings import NatsSettings
from modelops_testkit.processes import free_port


@dataclass
class Received:
    """One request the receiver saw, and what it answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    answered: int
    at: float
    cloudevent: Any = None

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


@dataclass
class Receiver:
    """Answers 204 unless told otherwise (`script`); can be stopped and started again."""

    port: int = field(default_factory=free_port)
    secrets: dict[str, list[str]] = field(default_factory=dict)
    script: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ok(self, path: str | None = None) -> list[Received]:
        return [r for r in self.received if 200 <= r.answered < 300 and path in (None, r.path)]

    def _verify(self, path: str, body: bytes, headers: dict[str, str]) -> bool:
        for secret in self.secrets.get(path, []):
            with contextlib.suppress(WebhookVerificationError):
                Webhook(secret).verify(body, headers)
                return True
        return False

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        status, extra = self.script.popleft() if self.script else (204, {})
        record = Received(
            request.url.path,
            headers,
            body,
            self._verify(request.url.path, body, headers),
            status,
            time.monotonic(),
        )
        if headers.get("content-type", "").startswith("application/cloudevents+json"):
            record.cloudevent = from_http(headers, body)
        self.received.append(record)
        body = b"" if status == 204 else b"ok" if status < 300 else b"no"
        return Response(status_code=status, headers=extra, content=body)

    def app(self) -> FastAPI:
        app = FastAPI()
        app.add_api_route("/{path:path}", self._handle, methods=["POST"])
        return app

    async def start(self) -> None:
        config = uvicorn.Config(
            self.app(), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = self._task = None

    async def wait_for(self, check: Callable[[], bool], timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while not check():
                await asyncio.sleep(0.05)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    await rec.start()
    yield rec
    await rec.stop()


def fast_delivery(**overrides: Any) -> DeliverySettings:
    """Short schedule and polls for tests; 127.0.0.1 allow-listed (loopback only)."""
    values: dict[str, Any] = {
        "retry_schedule_s": [0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3],
        "jitter": 0.0,
        "poll_interval_s": 0.1,
        "allow_private": ["127.0.0.1/32"],
        "timeout_s": 5.0,
        "connect_timeout_s": 1.0,
    }
    return DeliverySettings(**{**values, **overrides})


@contextlib.asynccontextmanager
async def notifier_client(settings: NotifierSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The notifier in-process (its consumer and workers run) and an HTTP client to it."""
    app = create_app(settings)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        yield http


async def poll(check: Callable[[], Any], timeout: float = 20.0) -> None:
    """Wait until an async check returns truthy."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.1)


@pytest.fixture
async def publisher(streams: Bus, nats_settings: NatsSettings) -> AsyncIterator[NatsEventPublisher]:
    """Publishes real events on this test's streams."""
    broker = make_broker(nats_settings, service="registry")
    await broker.connect()
    yield NatsEventPublisher(broker, streams)
    await broker.stop()


def registered(model: str = "churn", version: int = 1) -> ModelVersionRegistered:
    return ModelVersionRegistered(
        model_name=model,
        version=version,
        artifact_uri=f"s3://models/{model}/{version}/",
        content_digest="0" * 64,
        framework=Framework.ONNX,
    )


@dataclass
class Kit:
    """The helpers the notifier's integration tests share (handed out as the `kit` fixture)."""

    service_settings: Callable[..., Any]

    def settings(self, smtp: Any = None, **delivery: Any) -> NotifierSettings:
        extra = {} if smtp is None else {"smtp": smtp}
        result: NotifierSettings = self.service_settings(
            NotifierSettings, "notifier", delivery=fast_delivery(**delivery), **extra
        )
        return result

    def notifier(
        self, settings: NotifierSettings
    ) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
        return notifier_client(settings)

    @staticmethod
    def registered(model: str = "churn", version: int = 1) -> ModelVersionRegistered:
        return registered(model, version)

    @staticmethod
    async def poll(check: Callable[[], Any], timeout: float = 20.0) -> None:
        await poll(check, timeout)


@pytest.fixture
def kit(service_settings: Callable[..., Any]) -> Kit:
    return Kit(service_settings)

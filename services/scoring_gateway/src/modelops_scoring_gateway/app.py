"""Composition root of the scoring gateway: the only module that builds adapters.

Scoring paths go straight to the raw ASGI `Gateway`; everything else (health, metrics, the
/v1 API) to the FastAPI app of the service kit.
"""

import asyncio
import gc

from fastapi import FastAPI
from nats.js.client import JetStreamContext
from starlette.types import Message, Receive, Scope, Send

import modelops_scoring_gateway
from modelops_contracts.events import PredictionLogged
from modelops_scoring_gateway import api, subscribers
from modelops_scoring_gateway.admission import Admission
from modelops_scoring_gateway.app_state import GatewayState
from modelops_scoring_gateway.keys import KeyBook
from modelops_scoring_gateway.mirror import Mirror
from modelops_scoring_gateway.proxy import SCORING_PREFIXES, Gateway
from modelops_scoring_gateway.routing import RoutingTable
from modelops_scoring_gateway.sampling import Message as Prediction
from modelops_scoring_gateway.sampling import PredictionLog, SendBatch
from modelops_scoring_gateway.settings import ScoringGatewaySettings
from modelops_scoring_gateway.stats import GatewayCollector, Stats
from modelops_scoring_gateway.sync import DeployerApi, RoutingSync
from modelops_scoring_gateway.upstream import Upstreams
from modelops_servicekit.http import RequestContextMiddleware, ServiceMetrics
from modelops_servicekit.runtime import Runtime, Wiring, create_service_app


def prediction_sender(runtime: Runtime) -> SendBatch:
    """Publish a batch of PredictionLogged payloads concurrently and await their acks."""
    subject = runtime.bus.subject(PredictionLogged)
    stream = runtime.bus.predictions_stream
    source = f"/modelops/{runtime.service}"
    js: list[JetStreamContext] = []

    async def send(messages: list[Prediction]) -> None:
        if not js:
            js.append(runtime.broker.connection.jetstream())
        acks = []
        for event_id, payload in messages:
            headers = {"Nats-Msg-Id": event_id, "ce-specversion": "1.0", "ce-id": event_id,
                       "ce-type": PredictionLogged.event_type(), "ce-source": source}  # fmt: skip
            acks.append(await js[0].publish_async(subject, payload, stream=stream, headers=headers))
        async with asyncio.timeout(10):
            await asyncio.gather(*acks)

    return send


def service_metrics(app: FastAPI) -> ServiceMetrics:
    """The service kit's metrics registry (where the gateway's collector is added)."""
    for middleware in app.user_middleware:
        found: object = middleware.cls
        if found is RequestContextMiddleware:
            metrics = middleware.kwargs["metrics"]
            assert isinstance(metrics, ServiceMetrics)
            return metrics
    raise RuntimeError("the service app has no metrics middleware")


class GatewayApp:
    """One ASGI app: scoring paths to the hot path, the rest to FastAPI."""

    def __init__(self, settings: ScoringGatewaySettings) -> None:
        self.settings = settings
        self.api = create_service_app(
            settings, wire=self._wire, routers=[api.router],
            description=str(modelops_scoring_gateway.__doc__),
        )  # fmt: skip
        self.stats = Stats()
        service_metrics(self.api).registry.register(GatewayCollector(self.stats))
        self.gateway: Gateway | None = None
        self.state: GatewayState | None = None

    async def _wire(self, runtime: Runtime, app: FastAPI) -> Wiring:
        s = self.settings
        table, admission, upstreams = RoutingTable(), Admission(s.queue_factor), Upstreams()
        await upstreams.start()
        deployer = DeployerApi(upstreams, s.deployer_url)
        keys = KeyBook(deployer.key_hashes, s.key_refresh_min_interval_s)
        sync = RoutingSync(table, admission, keys, deployer, s.resync_interval_s)
        predictions = PredictionLog(
            prediction_sender(runtime), self.stats, s.prediction_buffer, s.prediction_batch,
            s.prediction_flush_s,
        )  # fmt: skip
        mirror = Mirror(
            table, admission, upstreams, self.stats, s.max_mirror_in_flight, s.mirror_rel_tol
        )
        self.state = GatewayState(
            table, admission, self.stats, upstreams, predictions, mirror, sync
        )
        app.state.gateway = self.state
        self.gateway = Gateway(
            table, admission, self.stats, upstreams, keys, predictions, mirror, s.max_body_bytes
        )
        predictions.start()
        sync.start()
        gc.freeze()  # what startup built leaves the collector's view: no long full collections
        return Wiring(router=subscribers.build_router(runtime, sync))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        http = scope["type"] == "http"
        if http and self.gateway is not None and scope["path"].startswith(SCORING_PREFIXES):
            await self.gateway(scope, receive, send)
            return
        if scope["type"] == "lifespan":
            receive = self._on_shutdown(receive)
        await self.api(scope, receive, send)

    def _on_shutdown(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown" and self.state is not None:
                await self.state.close()
            return message

        return wrapped


def create_app(settings: ScoringGatewaySettings) -> GatewayApp:
    """The scoring gateway's ASGI app."""
    return GatewayApp(settings)

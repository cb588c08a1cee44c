"""The model server as a raw ASGI app: a dict lookup per route, orjson, no framework per request.

Azure `/score`, Open Inference Protocol v2 under `/v2`, MLflow `/invocations`, health, the
model's own OpenAPI document and Prometheus `/metrics`.
"""

import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from modelops_modelserver import __version__
from modelops_modelserver.codecs import oip_outputs, script_outputs
from modelops_modelserver.frames import PROTOCOL, FrameServer
from modelops_modelserver.metadata import ModelMetadata, load_metadata
from modelops_modelserver.observability import ServerMetrics, log_fields
from modelops_modelserver.openapi import build_openapi
from modelops_modelserver.replies import (
    ERROR_STATUS,
    FAILURES,
    JSON,
    JSON_BODIES,
    TEXT,
    Reply,
    Scored,
    dumps,
    error_reply,
    json_reply,
    mlflow_error_reply,
)
from modelops_modelserver.scoring import ModelFailed, Overloaded, Scorer
from modelops_modelserver.settings import ServerSettings
from modelops_modelserver.validation import BadInput

log = logging.getLogger("modelops_modelserver")
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class ModelServerApp:
    """One model version behind the three scoring protocols."""

    def __init__(self, settings: ServerSettings, meta: ModelMetadata | None = None) -> None:
        self.settings = settings
        self.meta = meta
        self.metrics = ServerMetrics()
        self.scorer: Scorer | None = None
        self.ready = False
        self.openapi = b"{}"
        self._get: dict[str, Callable[[], Reply]] = {
            "/": lambda: (200, b"Healthy", TEXT),
            "/ping": lambda: (200, b"\n", TEXT),
            "/health": lambda: (200, b"\n", TEXT),
            "/version": lambda: (200, __version__.encode(), TEXT),
            "/v2/health/live": lambda: json_reply(200, {"live": True}),
            "/v2/health/ready": lambda: json_reply(
                200 if self.ready else 503, {"ready": self.ready}
            ),
            "/v2": self._server_metadata,
            "/metrics": lambda: (200, self.metrics.render(), b"text/plain; version=0.0.4"),
            "/openapi.json": lambda: (200, self.openapi, JSON),
            "/swagger.json": lambda: (200, self.openapi, JSON),
            "/modelops/frames": self._frames_info,
        }
        self.frames: FrameServer | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Load the model, warm it up and build the OpenAPI document (once per worker)."""
        meta = self.meta or load_metadata(Path(self.settings.model_dir))
        self.meta = meta
        self.scorer = Scorer(self.settings, meta, self.metrics)
        self.scorer.warm_up()
        self.openapi = dumps(build_openapi(meta, self.scorer.schema))
        self.ready = True
        log.info("model_loaded", extra=log_fields(model=meta.name, version=meta.version))

    def stop(self) -> None:
        self.ready = False
        if self.scorer is not None:
            self.scorer.close()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.start()
                    await self._start_frames()
                except Exception as exc:
                    log.exception("model_load_failed")
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.frames is not None:  # after uvicorn drained HTTP: the gateway's hop last
                    await self.frames.stop(self.settings.graceful_timeout_s)
                self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _start_frames(self) -> None:
        """The gateway's frames listener (one worker only: with several, the port that
        /modelops/frames names would reach one of them)."""
        s = self.settings
        if s.frames and s.workers <= 1:
            self.frames = FrameServer(self)
            port = await self.frames.start(s.host, s.frames_port)
            log.info("frames_listening", extra=log_fields(port=port))

    def _frames_info(self) -> Reply:
        if self.frames is None:
            return error_reply(404, "frames are off on this server")
        return json_reply(200, {"port": self.frames.port, "protocol": PROTOCOL})

    @property
    def inline(self) -> bool:
        """Scoring completes without suspending (the model runs on the event loop)."""
        return self.scorer is not None and self.scorer.inline

    @property
    def max_body_bytes(self) -> int:
        return self.settings.max_body_bytes

    # -- HTTP ----------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        path: str = scope["path"]
        route, checked = path, False
        if scope["method"] == "POST":
            body = await self._body(receive)
            if body is None:
                reply = error_reply(413, f"body larger than {self.settings.max_body_bytes} bytes")
            else:
                route, reply, checked = await self.post(path, _header(scope, b"content-type"), body)
        elif scope["method"] in ("GET", "HEAD"):
            getter = self._get.get(path)
            reply = getter() if getter is not None else self._v2_get(path)
        else:
            reply = error_reply(405, f"method {scope['method']} not allowed")
        status, payload, ctype = reply
        headers = [(b"content-type", ctype), (b"content-length", b"%d" % len(payload))]
        if checked and status == 200:
            headers.append(JSON_BODIES)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        self.observe(route, status, started)

    async def post(self, path: str, ctype: str | None, body: bytes) -> tuple[str, Reply, bool]:
        """A scoring call by path, over HTTP or frames: (metrics route, reply, whether the
        request was parsed as strict JSON)."""
        if path == "/score":
            reply, checked = await self._score(body)
        elif path == "/invocations":
            reply, checked = await self._invocations(ctype or "application/json", body)
        elif path.startswith("/v2/models/") and path.endswith("/infer"):
            reply, checked = await self._infer(path, body)
            path = "/v2/infer"
        else:
            reply, checked = error_reply(404, f"no route POST {path}"), False
        return path, reply, checked

    def observe(self, route: str, status: int, started: float) -> None:
        if route in ("/score", "/invocations", "/v2/infer"):
            self.metrics.observe(route, status, time.perf_counter() - started)

    async def _body(self, receive: Receive) -> bytes | None:
        message = await receive()
        body: bytes = message.get("body", b"")
        if not message.get("more_body", False):
            return body
        parts = [body]
        size = len(body)
        while message.get("more_body", False):
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.settings.max_body_bytes:
                return None
            parts.append(chunk)
        return b"".join(parts)

    # -- scoring -------------------------------------------------------------------------
    async def _run(
        self, decode: Callable[[Any], Any], body: bytes, raw_ok: bool, route: str
    ) -> tuple[Any, Any]:
        """(model result, parsed body); the body stays unparsed for raw score.py input."""
        scorer = self.scorer
        if scorer is None or not self.ready:
            raise Overloaded("the model is not loaded yet")
        if raw_ok and scorer.is_script and scorer.meta.script_input == "raw":
            return await scorer.predict({}, body, route), None
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BadInput(f"the body is not valid JSON: {exc}") from None
        return await scorer.predict(decode(parsed), body, route), parsed

    def _single(self, result: Any) -> Any:
        if self.scorer is not None and self.scorer.is_script:
            return result
        return next(iter(result.values())) if len(result) == 1 else result

    async def _score(self, body: bytes) -> Scored:
        try:
            result, parsed = await self._run(self._codec().azure, body, True, "/score")
        except FAILURES as exc:
            return self._failure(exc, error_reply), False
        if parsed is None:  # raw score.py input: run() answers as it likes
            return json_reply(200, result), False
        value = self._single(result)
        if isinstance(parsed, dict) and "data" not in parsed and "Inputs" in parsed:
            value = {"Results": value}
        return json_reply(200, value), True

    async def _invocations(self, ctype: str, body: bytes) -> Scored:
        if ctype == "application/json":
            try:
                result, _ = await self._run(self._codec().mlflow, body, False, "/invocations")
            except FAILURES as exc:
                return self._failure(exc, mlflow_error_reply), False
            return json_reply(200, {"predictions": self._single(result)}), True
        media, _, params = ctype.partition(";")
        media = media.strip().lower()
        charset_ok = not params.strip() or params.strip().lower().replace(" ", "") in (
            "charset=utf-8",
        )
        if media not in ("application/json", "text/csv") or not charset_ok:
            message = f"unsupported content type {ctype!r}: use application/json or text/csv"
            return mlflow_error_reply(415, message), False
        codec = self._codec()
        try:
            if media == "text/csv":
                decode: Callable[[Any], Any] = lambda _: codec.csv(body.decode("utf-8"))  # noqa: E731
                body_json = b"null"
                result, _ = await self._run(decode, body_json, False, "/invocations")
            else:
                result, _ = await self._run(codec.mlflow, body, False, "/invocations")
        except FAILURES as exc:
            return self._failure(exc, mlflow_error_reply), False
        except UnicodeDecodeError:
            return mlflow_error_reply(400, "the CSV body is not UTF-8"), False
        return json_reply(200, {"predictions": self._single(result)}), media != "text/csv"

    async def _infer(self, path: str, body: bytes) -> Scored:
        miss = self._wrong_model(path.removesuffix("/infer"))
        if miss is not None:
            return miss, False
        try:
            result, parsed = await self._run(self._codec().oip, body, False, "/v2/infer")
        except FAILURES as exc:
            return self._failure(exc, error_reply), False
        assert self.meta is not None
        outputs = result if not self.scorer or not self.scorer.is_script else script_outputs(result)
        wanted = [str(o.get("name")) for o in parsed.get("outputs", []) if isinstance(o, dict)]
        response: dict[str, Any] = {
            "model_name": self.meta.name,
            "model_version": self.meta.version,
            "id": str(parsed.get("id", "")),
            "outputs": oip_outputs(outputs, wanted or None),
        }
        if "parameters" in parsed:
            response["parameters"] = parsed["parameters"]
        return json_reply(200, response), True

    def _codec(self) -> Any:
        if self.scorer is None:
            raise Overloaded("the model is not loaded yet")
        return self.scorer.codec

    @staticmethod
    def _failure(exc: Exception, render: Callable[..., Reply]) -> Reply:
        status = ERROR_STATUS[type(exc)]
        if isinstance(exc, ModelFailed):
            return render(status, str(exc), error_id=exc.error_id)
        if status == 429 and "not loaded" in str(exc):
            status = 503
        return render(status, str(exc))

    # -- OIP metadata --------------------------------------------------------------------
    def _server_metadata(self) -> Reply:
        return json_reply(
            200, {"name": "modelops-modelserver", "version": __version__, "extensions": []}
        )

    def _wrong_model(self, path: str) -> Reply | None:
        """None when /v2/models/{name}[/versions/{v}] names this model, else a 404 reply."""
        assert self.meta is not None or not self.ready
        parts = path.removeprefix("/v2/models/").split("/")
        name = parts[0]
        version = parts[2] if len(parts) == 3 and parts[1] == "versions" else None
        if len(parts) not in (1, 3) or (len(parts) == 3 and version is None):
            return error_reply(404, f"no route {path}")
        if self.meta is None or name != self.meta.name:
            served = self.meta.name if self.meta else "nothing yet"
            return error_reply(404, f"model {name!r} is not served here (serving {served!r})")
        if version is not None and version != self.meta.version:
            return error_reply(404, f"version {version!r} of {name!r} is not served here")
        return None

    def _v2_get(self, path: str) -> Reply:
        if not path.startswith("/v2/models/"):
            return error_reply(404, f"no route GET {path}")
        is_ready = path.endswith("/ready")
        miss = self._wrong_model(path.removesuffix("/ready") if is_ready else path)
        if miss is not None:
            return miss
        assert self.meta is not None
        if is_ready:
            return json_reply(
                200 if self.ready else 503, {"name": self.meta.name, "ready": self.ready}
            )
        schema = self.scorer.schema if self.scorer else self.meta.schema
        return json_reply(
            200,
            {
                "name": self.meta.name,
                "versions": [self.meta.version],
                "platform": self.meta.platform,
                "inputs": [_meta(s.as_json()) for s in schema.inputs],
                "outputs": [_meta(s.as_json()) for s in schema.outputs],
            },
        )


def _meta(spec: dict[str, Any]) -> dict[str, Any]:
    return {"name": spec["name"], "datatype": spec["datatype"], "shape": spec["shape"]}


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def create_app(settings: ServerSettings | None = None) -> ModelServerApp:
    """The app for one worker; settings from the environment unless given."""
    return ModelServerApp(settings or ServerSettings.from_env())

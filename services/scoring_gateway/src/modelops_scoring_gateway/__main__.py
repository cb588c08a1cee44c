"""Run the scoring gateway service: `python -m modelops_scoring_gateway` (uvicorn with uvloop and
the gateway's own HTTP protocol, server.GatewayProtocol)."""

import functools

import uvicorn

from modelops_scoring_gateway.app import create_app
from modelops_scoring_gateway.server import GatewayProtocol
from modelops_scoring_gateway.settings import ScoringGatewaySettings
from modelops_servicekit.runtime import collect_less_often


def main() -> None:
    settings = ScoringGatewaySettings()
    collect_less_often()  # buffered predictions live until their batch is published
    app = create_app(settings)
    protocol = functools.partial(
        GatewayProtocol, gateway=lambda: app.gateway, max_body=settings.max_body_bytes
    )
    uvicorn.run(
        app,
        host=settings.http.host,
        port=settings.http.port,
        loop="uvloop",
        http=protocol,  # type: ignore[arg-type]  # a factory of the protocol, as uvicorn calls it
        log_config=None,
        access_log=False,
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=20,
        backlog=2048,
        proxy_headers=False,  # the hot path reads no forwarded headers: skip the middleware
    )


if __name__ == "__main__":
    main()

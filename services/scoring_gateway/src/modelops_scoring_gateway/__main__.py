"""Run the scoring gateway service: `python -m modelops_scoring_gateway` (uvloop + httptools)."""

import uvicorn

from modelops_scoring_gateway.app import create_app
from modelops_scoring_gateway.settings import ScoringGatewaySettings
from modelops_servicekit.runtime import collect_less_often


def main() -> None:
    settings = ScoringGatewaySettings()
    collect_less_often()  # buffered predictions live until their batch is published
    uvicorn.run(
        create_app(settings),
        host=settings.http.host,
        port=settings.http.port,
        loop="uvloop",
        http="httptools",
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

"""Run the scoring gateway service: `python -m modelops_scoring_gateway` (uvloop + httptools)."""

import gc

import uvicorn

from modelops_scoring_gateway.app import create_app
from modelops_scoring_gateway.settings import ScoringGatewaySettings

GC_THRESHOLDS = (50_000, 20, 100)
"""Young-generation collections every 50k allocations, not 700: the hot path allocates short-
lived containers per request, and buffered predictions are long-lived ones the GC would rescan."""


def main() -> None:
    settings = ScoringGatewaySettings()
    gc.set_threshold(*GC_THRESHOLDS)
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

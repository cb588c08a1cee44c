"""`modelops-modelserver --model-dir DIR [--port 5001] [--workers N]`: serve one model version.

Also the local debug mode: the same server, without Docker, on a port of this machine.
"""

import argparse
import os
from dataclasses import fields

import uvicorn

from modelops_modelserver.observability import configure_logging
from modelops_modelserver.settings import ServerSettings


def parse_args(argv: list[str] | None = None) -> ServerSettings:
    """Settings from the environment, overridden by command-line flags."""
    parser = argparse.ArgumentParser(prog="modelops-modelserver", description=__doc__)
    for f in fields(ServerSettings):
        flag = "--" + f.name.replace("_", "-")
        kind = type(getattr(ServerSettings(), f.name))
        convert = (lambda v: v.lower() in ("1", "true", "yes")) if kind is bool else kind
        parser.add_argument(flag, dest=f.name, type=convert, default=None)
    args = parser.parse_args(argv)
    return ServerSettings.from_env(**vars(args))


def serve(settings: ServerSettings) -> None:
    """Run uvicorn (uvloop, httptools); SIGTERM lets in-flight requests finish first."""
    configure_logging(settings.log_level)
    os.environ.update(settings.as_env())  # worker processes rebuild the same settings
    uvicorn.run(
        "modelops_modelserver.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers if settings.workers > 1 else None,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_config=None,
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=int(settings.graceful_timeout_s),
        backlog=2048,
    )


def main(argv: list[str] | None = None) -> None:
    serve(parse_args(argv))


if __name__ == "__main__":
    main()

"""`python -m modelops_demo`: bring the local platform up for the demo, then tell the story.

The services run as local processes (as `modelops up` runs them) with the demo's settings:
webhooks may target this machine, and collection, monitoring and rollouts tick in seconds.
"""

import sys
import tempfile
from pathlib import Path

from rich.console import Console

from modelops_client.config import ClientSettings
from modelops_client.local import LocalPlatform, LocalPlatformError
from modelops_demo.story import run_story

DEMO_ENV = {
    "MODELOPS_DELIVERY__ALLOW_PRIVATE": '["127.0.0.1/32"]',  # notifier: a local receiver
    "MODELOPS_FLUSH_INTERVAL_S": "2",  # collector: rows reach MinIO within seconds
    "MODELOPS_SCHEDULE_TICK_S": "2",  # drift monitor: due monitors are checked often
    "MODELOPS_EVIDENTLY_SAMPLE_ROWS": "500",
    "MODELOPS_RECONCILE_INTERVAL_S": "0.5",  # deployer
}
"""Settings of the demo's services (every service ignores the ones that are not its own)."""


def main() -> int:
    console = Console()
    try:
        platform = LocalPlatform()
        console.print("[bold]bringing the stack and the services up (demo settings)[/]")
        platform.stack("up", on_line=lambda line: console.print(f"[dim]{line}[/dim]"))
        env = {**platform.stack_env(), **DEMO_ENV}
        for service in platform.services:
            platform.stop(service)  # restarted below with the demo's settings
        for service in platform.services:
            platform.start(service, env)
        for service in platform.services:
            platform.wait_ready(service)
            console.print(f"[green]ready[/] {service.name} {service.url}")
    except LocalPlatformError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    with tempfile.TemporaryDirectory(prefix="modelops-demo-") as work:
        outcome = run_story(ClientSettings(), Path(work), console)
    return 1 if outcome.failed else 0


if __name__ == "__main__":
    sys.exit(main())

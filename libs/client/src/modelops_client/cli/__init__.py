"""The `modelops` command line: one typer app, a sub-command group per resource."""

import typer

from modelops_client.cli import (
    alert,
    apply,
    dataset,
    deployment,
    endpoint,
    feedback,
    job,
    model,
    monitor,
    package,
    platform,
    promotion,
    webhook,
)

app = typer.Typer(
    name="modelops",
    help="Manage machine-learning models through their whole life.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
platform.register(app)
model.register_group(app)
dataset.register_group(app)
webhook.register_group(app)
alert.register_group(app)
package.register_group(app)  # after model: adds `model convert|profile`
monitor.register_group(app)
endpoint.register_group(app)
deployment.register_group(app)
apply.register(app)
feedback.register_group(app)
job.register_group(app)
promotion.register_group(app)


def main() -> None:
    app()

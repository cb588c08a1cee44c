"""The data collector's consumers: PredictionLogged is pulled in batches by `intake.Intake`."""

from faststream.nats import NatsRouter

from modelops_data_collector.app_deps import Deps
from modelops_servicekit.runtime import Runtime


def build_router(runtime: Runtime, deps: Deps) -> NatsRouter:
    """No per-message subscribers: the predictions stream is consumed by the batched intake."""
    del runtime, deps
    return NatsRouter()

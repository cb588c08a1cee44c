"""The jobs's adapters, built once in the composition root."""

from dataclasses import dataclass

from modelops_jobs.ports import (
    Artifacts,
    Claims,
    Datasets,
    Jobs,
    Models,
    Policies,
    Promotions,
    Runs,
    Shadows,
    Windows,
)
from modelops_jobs.runner import Runner
from modelops_jobs.settings import JobsSettings
from modelops_servicekit.bus import EventPublisher
from modelops_servicekit.inbox import Inbox


@dataclass
class Deps:
    """Everything handlers need, passed in (never imported)."""

    settings: JobsSettings
    inbox: Inbox
    events: EventPublisher
    jobs: Jobs
    runs: Runs
    store: Artifacts
    runner: Runner
    claims: Claims
    policies: Policies
    promotions: Promotions
    models: Models
    datasets: Datasets
    windows: Windows
    shadows: Shadows

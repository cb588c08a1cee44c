"""The builder's adapters, built once in the composition root."""

from dataclasses import dataclass
from typing import Any

from modelops_builder.packaging import Packager
from modelops_builder.repository import MongoBuilderStore
from modelops_builder.settings import BuilderSettings
from modelops_servicekit.bus import EventPublisher
from modelops_servicekit.inbox import Inbox


@dataclass
class Deps:
    """Everything handlers need, passed in (never imported)."""

    settings: BuilderSettings
    inbox: Inbox
    events: EventPublisher
    store: MongoBuilderStore
    packager: Packager
    converter: Any
    profiler: Any

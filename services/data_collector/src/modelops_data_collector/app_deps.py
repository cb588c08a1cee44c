"""The data collector's adapters, built once in the composition root."""

from collections.abc import Callable
from dataclasses import dataclass

from modelops_data_collector.ports import Feedback, Objects, Windows


@dataclass
class Deps:
    """Everything handlers need, passed in (never imported)."""

    objects: Objects
    windows: Windows
    feedback: Feedback
    kick: Callable[[], None]
    window_grace_s: float
    feedback_max_rows: int
    page_size: int

"""The notifier's adapters, built once in the composition root."""

from dataclasses import dataclass

from modelops_notifier.handlers import Notifier


@dataclass
class Deps:
    """Everything routes and subscribers need, passed in (never imported)."""

    notifier: Notifier

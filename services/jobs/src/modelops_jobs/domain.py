"""Runs and their rules: states, transitions, metrics lines, parameters. Pure: no I/O."""

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath

from modelops_contracts.types import RunState
from modelops_servicekit.errors import Conflict, Invalid

ACTIVE = frozenset({RunState.QUEUED, RunState.RUNNING})
"""States of a run that still holds (or waits for) a process."""
TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    RunState.QUEUED: frozenset({RunState.RUNNING, RunState.FAILED, RunState.CANCELLED}),
    RunState.RUNNING: frozenset({RunState.COMPLETED, RunState.FAILED, RunState.CANCELLED}),
}
MAX_METRICS = 10_000
"""Metric points kept per run; later points are dropped (and counted)."""
PYTHON_NAMES = frozenset({"python", "python3"})


def now() -> datetime:
    """The time, in UTC (the one clock of the service)."""
    return datetime.now(UTC)


class IllegalTransition(Conflict):
    """A run cannot move from its state to the requested one."""


def check_transition(current: RunState, target: RunState) -> None:
    """Raise IllegalTransition unless `current -> target` is allowed."""
    if target not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(f"a {current} run cannot become {target}")


@dataclass(frozen=True)
class Metric:
    """One logged point: name, value, optional step."""

    name: str
    value: float
    step: int | None = None

    def as_doc(self) -> dict[str, str | float | int | None]:
        return {"name": self.name, "value": self.value, "step": self.step}


def _metric(line: str) -> Metric | None:
    try:
        raw = json.loads(line)
        name, value, step = raw["name"], float(raw["value"]), raw.get("step")
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(name, str) or not name or not math.isfinite(value):
        return None
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
        return None
    return Metric(name, value, step)


def parse_metrics(lines: Iterable[str]) -> tuple[list[Metric], int]:
    """Metric points from JSON lines `{"name", "value", "step"}`; returns (points, rejected)."""
    points: list[Metric] = []
    rejected = 0
    for line in lines:
        if not line.strip():
            continue
        metric = _metric(line)
        if metric is None or len(points) >= MAX_METRICS:
            rejected += 1
        else:
            points.append(metric)
    return points, rejected


def latest_values(points: Iterable[Metric]) -> dict[str, float]:
    """The summary of a run: the last logged value of each metric."""
    return {p.name: p.value for p in points}


def env_name(parameter: str) -> str:
    """`learning-rate` -> `MODELOPS_PARAM_LEARNING_RATE`."""
    return "MODELOPS_PARAM_" + re.sub(r"[^A-Za-z0-9]", "_", parameter).upper()


def input_env(name: str) -> str:
    """`train` -> `MODELOPS_INPUT_TRAIN`: the folder where a run finds that input."""
    return "MODELOPS_INPUT_" + name.upper()


def parameter_env(parameters: dict[str, str]) -> dict[str, str]:
    return {env_name(k): v for k, v in parameters.items()}


def parameter_args(parameters: dict[str, str]) -> list[str]:
    """`--name value` pairs, in name order."""
    return [part for k in sorted(parameters) for part in (f"--{k}", parameters[k])]


def command_line(
    command: list[str], parameters: dict[str, str], as_args: bool, python: str
) -> list[str]:
    """The argv of a run; a bare `python` means the interpreter the service runs with."""
    argv = [python if command[0] in PYTHON_NAMES else command[0], *command[1:]]
    return argv + parameter_args(parameters) if as_args else argv


def output_path(path: str) -> str:
    """A declared output path, relative to the run's output folder and staying inside it."""
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts:
        raise Invalid(f"output path {path!r} must be relative, inside the output folder")
    return pure.as_posix()


def tail(text: str, chars: int) -> str:
    """The end of a log, at most `chars` characters."""
    return text[-chars:] if len(text) > chars else text


def failure_reason(exit_code: int | None, timed_out: bool, timeout_s: float) -> str:
    if timed_out:
        return f"timed out after {timeout_s:g} s"
    return f"the command exited with code {exit_code}"

"""Helpers for training scripts run by the jobs service: log metrics, find the output folder.

Outside a run (no MODELOPS_METRICS_FILE) metrics go to `./metrics.jsonl` and outputs to
`./outputs`, so a script behaves the same on a laptop.
"""

import json
import math
import os
from pathlib import Path


def run_id() -> str | None:
    """The id of the run executing this script, if any."""
    return os.environ.get("MODELOPS_RUN_ID")


def output_dir() -> Path:
    """Where to write the files the job declares as outputs (created if needed)."""
    folder = Path(os.environ.get("MODELOPS_OUTPUT_DIR", "outputs"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def param(name: str, default: str | None = None) -> str | None:
    """A job parameter (`MODELOPS_PARAM_<NAME>`), or the default."""
    key = "MODELOPS_PARAM_" + "".join(c if c.isalnum() else "_" for c in name).upper()
    return os.environ.get(key, default)


def log_metric(name: str, value: float, step: int | None = None) -> None:
    """Append one metric point; the run's summary keeps the last value of each name."""
    if not name or not math.isfinite(float(value)):
        raise ValueError(f"metric {name!r} needs a name and a finite value, got {value!r}")
    line = json.dumps({"name": name, "value": float(value), "step": step})
    path = Path(os.environ.get("MODELOPS_METRICS_FILE", "metrics.jsonl"))
    with path.open("a", encoding="utf-8") as f:
        f.write(line + "\n")


def log_metrics(values: dict[str, float], step: int | None = None) -> None:
    """Several metrics at one step."""
    for name, value in values.items():
        log_metric(name, value, step)

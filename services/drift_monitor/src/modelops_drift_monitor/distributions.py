"""Baseline vs current distribution of one feature, kept with each run for its plots.

Numerical: shares per bin over the union range (Sturges bins, capped), counted by binary search
on the sorted values a check already holds. Categorical (and numerical with few values): shares
per value, the most frequent ones kept and the rest summed as "(other)".
"""

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from modelops_drift_monitor.stattests import Floats

MAX_BINS = 40
MAX_VALUES = 30
FEW_VALUES = 20
OTHER = "(other)"


def _shares(counts: np.ndarray, total: int) -> list[float]:
    return [float(c) / total if total else 0.0 for c in counts]


def numerical(reference: Floats, current: Floats, reference_unique: int) -> dict[str, Any]:
    """Histogram shares of two sorted, finite, non-empty arrays on common bin edges."""
    if reference_unique <= FEW_VALUES:
        cur = _counts(current)
        if len(cur) <= FEW_VALUES:
            return categorical(_counts(reference), cur)
    low, high = min(reference[0], current[0]), max(reference[-1], current[-1])
    bins = min(MAX_BINS, math.ceil(math.log2(reference.size + current.size)) + 1)
    edges = np.linspace(low, high, bins + 1) if high > low else np.array([low, low + 1.0])

    def counts(values: Floats) -> np.ndarray:
        cuts = np.searchsorted(values, edges[1:-1], side="left")
        return np.diff(np.concatenate(([0], cuts, [values.size])))

    return {
        "type": "histogram",
        "edges": [float(e) for e in edges],
        "reference": _shares(counts(reference), reference.size),
        "current": _shares(counts(current), current.size),
    }


def _counts(values: Floats) -> dict[Any, int]:
    """Value counts of a sorted array by run length (no second sort)."""
    starts = np.concatenate(([0], np.flatnonzero(np.diff(values)) + 1))
    counts = np.diff(np.concatenate((starts, [values.size])))
    return dict(zip(values[starts].tolist(), counts.tolist(), strict=True))


def categorical(reference: Mapping[Any, int], current: Mapping[Any, int]) -> dict[str, Any]:
    """Shares per value, most frequent (over both sides) first."""
    ref_total, cur_total = sum(reference.values()), sum(current.values())

    def weight(key: Any) -> tuple[float, str]:
        ref_share = reference.get(key, 0) / max(ref_total, 1)
        return -(ref_share + current.get(key, 0) / max(cur_total, 1)), str(key)

    keys = sorted(set(reference) | set(current), key=weight)
    kept, rest = keys[:MAX_VALUES], keys[MAX_VALUES:]
    ref = [reference.get(k, 0) for k in kept]
    cur = [current.get(k, 0) for k in kept]
    labels = [str(k) for k in kept]
    if rest:
        labels.append(OTHER)
        ref.append(sum(reference.get(k, 0) for k in rest))
        cur.append(sum(current.get(k, 0) for k in rest))
    return {
        "type": "bars",
        "values": labels,
        "reference": _shares(np.asarray(ref), ref_total),
        "current": _shares(np.asarray(cur), cur_total),
    }

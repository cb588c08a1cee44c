"""Evidently's drift tests, computed from stored baseline statistics (pure numpy/scipy).

Each function reproduces the statistic of evidently.legacy.calculations.stattests.<name> on
inputs that are cheap to keep: sorted reference values for numerical columns, value counts
for categorical ones. Numerical inputs are finite float64 arrays, sorted ascending.
"""

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats  # type: ignore[import-untyped]  # no type information shipped
from scipy.spatial import distance  # type: ignore[import-untyped]  # no type information shipped

Floats = NDArray[np.float64]
Counts = Mapping[Any, int]

STD_FLOOR = 0.001
SMALL_REFERENCE = 1000  # Evidently: reference rows <= 1000 -> p-value tests
CATEGORICAL_UNIQUE = 5  # numerical columns with <= 5 unique values use categorical tests
BINARY_UNIQUE = 2
BINNING_UNIQUE = 20  # >20 unique reference values -> sturges bins, else one bin per value

# name -> (default threshold, drift when score >= threshold (True) or p-value < threshold (False))
DEFAULT_THRESHOLDS: dict[str, float] = {
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "psi": 0.1,
    "kl_div": 0.1,
    "ks": 0.05,
    "chisquare": 0.05,
    "z": 0.05,
}
DISTANCE_TESTS = frozenset({"wasserstein", "jensenshannon", "psi", "kl_div"})
NUMERIC_ONLY = frozenset({"wasserstein", "ks"})


def default_test(kind: str, reference_rows: int, union_unique: int) -> str:
    """Evidently's `_get_default_stattest` for a numerical or categorical column."""
    if reference_rows <= SMALL_REFERENCE:
        if kind == "numerical" and union_unique > CATEGORICAL_UNIQUE:
            return "ks"
        return "chisquare" if union_unique > BINARY_UNIQUE else "z"
    if kind == "numerical" and union_unique > CATEGORICAL_UNIQUE:
        return "wasserstein"
    return "jensenshannon"


def drifted(test: str, score: float, threshold: float) -> bool:
    """Evidently's verdict rule per test (distances >=, ks p <=, other p-values <)."""
    if test in DISTANCE_TESTS:
        return bool(score >= threshold)
    if test == "ks":
        return bool(score <= threshold)
    return bool(score < threshold)


def wasserstein_norm(ref: Floats, cur: Floats, ref_std: float) -> float:
    """First Wasserstein distance of two sorted samples, divided by max(std(ref), 0.001)."""
    merged = np.concatenate((ref, cur))
    merged.sort(kind="stable")  # two sorted runs: a linear merge
    deltas = np.diff(merged)
    head = merged[:-1]
    ref_cdf = np.searchsorted(ref, head, side="right") / ref.size
    cur_cdf = np.searchsorted(cur, head, side="right") / cur.size
    value = float(np.dot(np.abs(ref_cdf - cur_cdf), deltas))
    return value / max(ref_std, STD_FLOOR)


def ks_pvalue(ref: Floats, cur: Floats) -> float:
    """Two-sided two-sample Kolmogorov-Smirnov p-value (scipy's ks_2samp, method auto)."""
    return float(stats.ks_2samp(ref, cur).pvalue)


def value_counts(sorted_values: Floats) -> dict[object, int]:
    """Counts per distinct value of a sorted numerical array."""
    values, counts = np.unique(sorted_values, return_counts=True)
    return {float(v): int(c) for v, c in zip(values.tolist(), counts.tolist(), strict=True)}


def aligned(ref: Counts, cur: Counts) -> tuple[Floats, Floats]:
    """Counts of both samples over the union of their categories."""
    keys = list(set(ref) | set(cur))
    r = np.array([ref.get(k, 0) for k in keys], dtype=np.float64)
    c = np.array([cur.get(k, 0) for k in keys], dtype=np.float64)
    return r, c


def chisquare_pvalue(ref: Counts, cur: Counts) -> float:
    """Chi-square goodness of fit: expected = reference counts scaled to the current size."""
    r, c = aligned(ref, cur)
    expected = r * (c.sum() / r.sum())
    return float(stats.chisquare(c, expected).pvalue)


def z_pvalue(ref: Counts, cur: Counts) -> float:
    """Two-sided proportion-difference Z-test on the share of values != the smallest key."""
    ref_keys, cur_keys = [k for k, v in ref.items() if v], [k for k, v in cur.items() if v]
    if len(ref_keys) == 1 and len(cur_keys) == 1 and ref_keys[0] == cur_keys[0]:
        return 1.0
    first = sorted(set(ref_keys) | set(cur_keys))[0]
    n1, n2 = sum(ref.values()), sum(cur.values())
    p1, p2 = (n1 - ref.get(first, 0)) / n1, (n2 - cur.get(first, 0)) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(2 * (1 - stats.norm.cdf(np.abs(z))))


def sturges_edges(ref: Floats, cur: Floats) -> Floats:
    """numpy's histogram_bin_edges(ref + cur, "sturges") from the two sorted samples."""
    first, last = float(min(ref[0], cur[0])), float(max(ref[-1], cur[-1]))
    if first == last:
        first, last = first - 0.5, last + 0.5
    width = (last - first) / (np.log2(ref.size + cur.size) + 1.0)
    bins = int(np.ceil((last - first) / width)) if width else 1
    return np.linspace(first, last, bins + 1, endpoint=True)


def sorted_histogram(values: Floats, edges: Floats) -> Floats:
    """np.histogram counts of a sorted array (last bin closed), by binary search."""
    idx = np.searchsorted(values, edges, side="left")
    idx[-1] = np.searchsorted(values, edges[-1], side="right")
    return np.diff(idx).astype(np.float64)


def binned(ref: Floats, cur: Floats, ref_unique: int) -> tuple[Floats, Floats]:
    """Evidently's get_binned_data for a numerical column, as fractions (no zero filling)."""
    if ref_unique > BINNING_UNIQUE:
        edges = sturges_edges(ref, cur)
        return sorted_histogram(ref, edges) / ref.size, sorted_histogram(cur, edges) / cur.size
    r, c = aligned(value_counts(ref), value_counts(cur))
    return r / ref.size, c / cur.size


def fill_zeroes(p: Floats) -> Floats:
    """Evidently's zero filling for PSI/KL: 1e-4, or min_nonzero/1e6 when that is <= 1e-4."""
    out = p.copy()
    smallest = float(out[out != 0].min())
    out[out == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return out


def from_fractions(test: str, p: Floats, q: Floats) -> float:
    """A distance between two binned distributions given as fractions."""
    if test == "jensenshannon":
        return float(distance.jensenshannon(p, q))
    p, q = fill_zeroes(p), fill_zeroes(q)
    if test == "psi":
        return float(np.sum((p - q) * np.log(p / q)))
    if test == "kl_div":
        return float(stats.entropy(p, q))
    raise ValueError(f"unsupported test {test!r}")

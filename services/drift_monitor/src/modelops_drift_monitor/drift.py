"""One drift check: a current window, read column by column, against a stored baseline.

Features run in parallel threads (numpy sorts and searches and pyarrow reads release the GIL).
A window larger than `max_rows` is sampled reproducibly (seeded; the sample size is reported).
"""

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]  # no type information shipped
import pyarrow.dataset as pads  # type: ignore[import-untyped]  # no type information shipped

from modelops_drift_monitor import distributions
from modelops_drift_monitor import stattests as st
from modelops_drift_monitor.baseline import Baseline, category_counts, finite_sorted
from modelops_drift_monitor.quality import ColumnQuality, column_quality


@dataclass(frozen=True)
class FeatureOptions:
    """A per-feature override of Evidently's default test and threshold."""

    test: str | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class DriftOptions:
    """How a check runs."""

    features: list[str] | None = None
    per_feature: dict[str, FeatureOptions] = field(default_factory=dict)
    drift_share: float = 0.5
    max_rows: int = 1_000_000
    seed: int = 42
    workers: int = 2


@dataclass(frozen=True)
class ColumnDrift:
    """The verdict on one feature."""

    feature: str
    kind: str
    test: str
    score: float
    threshold: float
    drifted: bool
    reference_rows: int
    current_rows: int
    quality: ColumnQuality | None = None
    error: str | None = None
    distribution: dict[str, Any] | None = None


@dataclass
class DriftResult:
    """A whole check: per-feature verdicts and the dataset verdict."""

    features: list[ColumnDrift]
    rows: int
    sample_size: int
    seed: int
    drift_share: float
    seconds: float = 0.0
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def drifted_features(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]

    @property
    def share_drifted(self) -> float:
        tested = [f for f in self.features if f.error is None]
        return len(self.drifted_features) / len(tested) if tested else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.features) and self.share_drifted >= self.drift_share


def _union_unique(ref_unique: int, ref_keys: set[float], cur: st.Floats) -> int:
    if ref_unique > st.CATEGORICAL_UNIQUE:
        return ref_unique
    cur_unique = np.unique(cur)
    if cur_unique.size > st.CATEGORICAL_UNIQUE:
        return int(cur_unique.size)
    return len(ref_keys | set(cur_unique.tolist()))


Tested = tuple[str, float, int, dict[str, Any]]  # test, score, current rows, distribution


def _numerical(baseline: Baseline, name: str, col: pa.ChunkedArray, opt: FeatureOptions) -> Tested:
    stats = baseline.columns[name]
    ref, cur = baseline.values(name), finite_sorted(col)
    if cur.size == 0 or ref.size == 0:
        raise ValueError("empty column after dropping nulls")
    test, score = _numerical_test(ref, cur, stats.unique, stats.std, opt)
    return test, score, int(cur.size), distributions.numerical(ref, cur, stats.unique)


def _numerical_test(
    ref: st.Floats, cur: st.Floats, unique: int, std: float, opt: FeatureOptions
) -> tuple[str, float]:
    ref_keys = set(np.unique(ref).tolist()) if unique <= st.CATEGORICAL_UNIQUE else set()
    test = opt.test or st.default_test("numerical", ref.size, _union_unique(unique, ref_keys, cur))
    if test == "wasserstein":
        return test, st.wasserstein_norm(ref, cur, std)
    if test == "ks":
        return test, st.ks_pvalue(ref, cur)
    if test in ("chisquare", "z"):
        fn = st.chisquare_pvalue if test == "chisquare" else st.z_pvalue
        return test, fn(st.value_counts(ref), st.value_counts(cur))
    p, q = st.binned(ref, cur, unique)
    return test, st.from_fractions(test, p, q)


def _categorical(
    baseline: Baseline, name: str, col: pa.ChunkedArray, opt: FeatureOptions
) -> Tested:
    stats = baseline.columns[name]
    ref: st.Counts = baseline.counts(name)
    cur: st.Counts = category_counts(col, stats.key_type)
    n_cur = sum(cur.values())
    if n_cur == 0 or stats.count == 0:
        raise ValueError("empty column after dropping nulls")
    if opt.test in st.NUMERIC_ONLY:
        raise ValueError(f"{opt.test} needs a numerical column")
    union = len(set(ref) | set(cur))
    test = opt.test or st.default_test("categorical", stats.count, union)
    shares = distributions.categorical(ref, cur)
    if test == "chisquare":
        return test, st.chisquare_pvalue(ref, cur), n_cur, shares
    if test == "z":
        return test, st.z_pvalue(ref, cur), n_cur, shares
    r, c = st.aligned(ref, cur)
    return test, st.from_fractions(test, r / r.sum(), c / c.sum()), n_cur, shares


def check_column(
    baseline: Baseline, name: str, col: pa.ChunkedArray, opt: FeatureOptions
) -> ColumnDrift:
    """Evidently's drift test of one feature (its default or the override)."""
    stats = baseline.columns[name]
    quality = column_quality(stats, col, baseline)
    try:
        run = _numerical if stats.kind == "numerical" else _categorical
        test, score, n_cur, shares = run(baseline, name, col, opt)
    except (ValueError, pa.ArrowInvalid) as exc:
        return ColumnDrift(
            name,
            stats.kind,
            opt.test or "",
            float("nan"),
            float("nan"),
            False,
            stats.count,
            0,
            quality,
            str(exc),
        )
    threshold = opt.threshold if opt.threshold is not None else st.DEFAULT_THRESHOLDS[test]
    verdict = st.drifted(test, score, threshold)
    return ColumnDrift(
        name, stats.kind, test, score, threshold, verdict, stats.count, n_cur, quality, None, shares
    )


def sample_indices(rows: int, max_rows: int, seed: int) -> np.ndarray | None:
    """Sorted row indices of a reproducible sample, or None when the window fits."""
    if rows <= max_rows:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(rows, size=max_rows, replace=False))


def check_drift(
    baseline: Baseline, current: pads.Dataset, options: DriftOptions | None = None
) -> DriftResult:
    """Check every watched feature of a window against the baseline, in parallel."""
    options = options or DriftOptions()
    started = time.perf_counter()
    rows = current.count_rows()
    take = sample_indices(rows, options.max_rows, options.seed)
    wanted = options.features or list(baseline.columns)
    skipped = {n: r for n, r in baseline.skipped.items() if n in wanted}
    names = [n for n in wanted if n in baseline.columns and n in current.schema.names]
    skipped.update(
        {
            n: "missing from the baseline or the window"
            for n in wanted
            if n not in names and n not in skipped
        }
    )

    def one(name: str) -> ColumnDrift:
        col = current.to_table(columns=[name]).column(0)
        if take is not None:
            col = col.take(pa.array(take))
        return check_column(baseline, name, col, options.per_feature.get(name, FeatureOptions()))

    with ThreadPoolExecutor(max_workers=max(1, options.workers)) as pool:
        features = list(pool.map(one, names))
    sample = rows if take is None else int(take.size)
    result = DriftResult(features, rows, sample, options.seed, options.drift_share, skipped=skipped)
    result.seconds = time.perf_counter() - started
    return result

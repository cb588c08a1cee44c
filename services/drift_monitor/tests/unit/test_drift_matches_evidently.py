"""Our fast path against plain Evidently (Report + DataDriftPreset) on the same data.

Tolerance: scores agree within 1e-9 relative (same formulas, float64; only summation order
differs) and every per-feature verdict is identical, in both reference-size regimes.
"""

from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no type information shipped
import pyarrow as pa  # type: ignore[import-untyped]  # no type information shipped
import pyarrow.dataset as pads  # type: ignore[import-untyped]  # no type information shipped
import pytest

from modelops_drift_monitor.baseline import build_baseline, load_baseline, save_baseline
from modelops_drift_monitor.drift import DriftOptions, FeatureOptions, check_drift
from modelops_drift_monitor.evidently_report import run_evidently

REL_TOL = 1e-9


def frame(n: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    moved = [0.3, 0.3, 0.4] if shift else [0.5, 0.3, 0.2]
    return pd.DataFrame(
        {
            "n0": rng.normal(shift, 1, n),
            "n1": rng.normal(shift, 1, n),
            "n2": rng.normal(0, 1, n),
            "n3": rng.uniform(0, 10, n),
            "with_nans": np.where(rng.random(n) < 0.1, np.nan, rng.exponential(1 + shift, n)),
            "few_values": rng.choice([0.5, 1.5, 2.5], n, p=moved),
            "binary_num": rng.choice([1.0, 2.0], n),
            "int_cat": rng.integers(0, 4, n),
            "int_num": rng.integers(0, 100, n),
            "cat3": rng.choice(["a", "b", "c"], n, p=[0.2, 0.3, 0.5] if shift else [0.4, 0.3, 0.3]),
            "cat2": rng.choice(["yes", "no"], n),
            "flag": rng.random(n) < 0.5,
        }
    )


def dataset(df: pd.DataFrame) -> pads.Dataset:
    return pads.dataset(pa.Table.from_pandas(df, preserve_index=False))


@pytest.mark.parametrize(
    ("rows", "tests"),
    [(600, {"ks", "chisquare", "z"}), (3000, {"wasserstein", "jensenshannon"})],
)
@pytest.mark.parametrize("shift", [0.0, 0.4])
def test_same_tests_scores_and_verdicts_as_evidently(
    rows: int, tests: set[str], shift: float, tmp_path: Path
) -> None:
    ref, cur = frame(rows, 0.0, 1), frame(rows, shift, 2)
    save_baseline(build_baseline(dataset(ref)), tmp_path / "b.npz")
    ours = check_drift(load_baseline(tmp_path / "b.npz"), dataset(cur))
    theirs, _ = run_evidently(ref, cur)

    assert {f.feature for f in ours.features} == set(theirs) == set(ref.columns)
    assert {f.test for f in ours.features} == tests
    for f in ours.features:
        e = theirs[f.feature]
        assert (f.test, f.threshold, f.drifted) == (e.test, e.threshold, e.drifted), f.feature
        assert f.score == pytest.approx(e.score, rel=REL_TOL, abs=1e-300), f.feature
    if shift:
        assert {"n0", "n1", "with_nans", "few_values", "cat3"} <= set(ours.drifted_features)
    else:
        assert not {"n0", "n1", "with_nans", "few_values", "cat3"} & set(ours.drifted_features)


def test_per_feature_overrides_match_evidently() -> None:
    ref, cur = frame(3000, 0.0, 1), frame(3000, 0.4, 3)
    methods = {"n0": "psi", "n3": "jensenshannon", "cat3": "chisquare", "int_num": "ks"}
    per = {k: FeatureOptions(test=v) for k, v in methods.items()}
    ours = check_drift(build_baseline(dataset(ref)), dataset(cur), DriftOptions(per_feature=per))
    theirs, _ = run_evidently(ref, cur, per_column_method=methods)
    for f in ours.features:
        e = theirs[f.feature]
        assert (f.test, f.drifted) == (e.test, e.drifted), f.feature
        assert f.score == pytest.approx(e.score, rel=REL_TOL, abs=1e-300), f.feature


def test_large_windows_are_sampled_reproducibly() -> None:
    ref, cur = frame(3000, 0.0, 1), frame(5000, 0.4, 2)
    base = build_baseline(dataset(ref))
    options = DriftOptions(max_rows=2000, seed=7)
    first, again = (
        check_drift(base, dataset(cur), options),
        check_drift(base, dataset(cur), options),
    )
    assert (first.rows, first.sample_size, first.seed) == (5000, 2000, 7)
    assert [f.score for f in first.features] == [f.score for f in again.features]

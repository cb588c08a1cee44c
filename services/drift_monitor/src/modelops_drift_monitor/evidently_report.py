"""Plain Evidently on DataFrames: the HTML report of a run and the reference for our fast path.

Imported lazily (Evidently takes seconds to import); the fast path never needs it.
"""

import re
import warnings
from dataclasses import dataclass

import pandas as pd  # type: ignore[import-untyped]  # no type information shipped

from modelops_drift_monitor import stattests as st

DISPLAY_NAMES = {
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "PSI": "psi",
    "Kullback-Leibler divergence": "kl_div",
}
_METRIC = re.compile(
    r"^ValueDrift\(column=(?P<col>.*),method=(?P<method>.*),threshold=(?P<thr>[^)]*)\)$"
)


@dataclass(frozen=True)
class EvidentlyVerdict:
    """Evidently's result for one column."""

    test: str
    score: float
    threshold: float
    drifted: bool


def run_evidently(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: list[str] | None = None,
    per_column_method: dict[str, str] | None = None,
) -> tuple[dict[str, EvidentlyVerdict], object]:
    """Run `Report([DataDriftPreset()])`; per-column verdicts and the snapshot (for HTML)."""
    with warnings.catch_warnings():  # Evidently's own deprecation warnings are not ours to fix
        warnings.simplefilter("ignore")
        from evidently import Report  # type: ignore[import-untyped]  # no type information shipped
        from evidently.presets import DataDriftPreset  # type: ignore[import-untyped]  # no type information shipped

        methods = per_column_method or None
        preset = DataDriftPreset(columns=columns, per_column_method=methods)
        snapshot = Report([preset]).run(current, reference)
    verdicts: dict[str, EvidentlyVerdict] = {}
    for metric in snapshot.dict()["metrics"]:
        match = _METRIC.match(metric["metric_name"])
        if match is None:
            continue
        test = DISPLAY_NAMES.get(match["method"], match["method"])
        score, threshold = float(metric["value"]), float(match["thr"])
        verdicts[match["col"]] = EvidentlyVerdict(
            test, score, threshold, st.drifted(test, score, threshold)
        )
    return verdicts, snapshot


def render_html(
    reference: pd.DataFrame, current: pd.DataFrame, columns: list[str] | None = None
) -> str:
    """Evidently's own HTML drift report."""
    _, snapshot = run_evidently(reference, current, columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        html: str = snapshot.get_html_str(as_iframe=False)  # type: ignore[attr-defined]  # evidently Snapshot
    return html

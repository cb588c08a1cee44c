"""Plots of a monitor: one feature's baseline vs current distribution in a run, and its drift
score over runs.

Figures are plotly figure documents (plain JSON: `data` traces and a `layout`), renderable by
plotly in any language; the HTML pages embed plotly.js, so they open offline and as saved files.
"""

from itertools import pairwise
from typing import Any

from modelops_drift_monitor.stattests import DISTANCE_TESTS

Figure = dict[str, Any]
BASELINE, CURRENT, DRIFT = "#1f77b4", "#ff7f0e", "#d62728"


def _verdict(feature: dict[str, Any]) -> str:
    if feature.get("error"):
        return f"not tested: {feature['error']}"
    score, threshold = feature.get("score"), feature.get("threshold")
    if score is None or threshold is None:
        return "not tested"
    word = "DRIFT" if feature.get("drifted") else "no drift"
    return f"{feature['test']} {score:.4g} (threshold {threshold:.4g}): {word}"


def distribution_figure(feature: dict[str, Any]) -> Figure:
    """Baseline vs current shares of one feature, from a run result's feature entry."""
    dist = feature.get("distribution")
    if not dist:
        raise ValueError(f"no distribution was recorded for {feature['feature']!r}")
    sides = (("baseline", dist["reference"], BASELINE), ("current", dist["current"], CURRENT))
    if dist["type"] == "histogram":
        edges = dist["edges"]
        x = [(a + b) / 2 for a, b in pairwise(edges)]
        width = [b - a for a, b in pairwise(edges)]
        traces = [
            {"type": "bar", "name": name, "x": x, "y": y, "width": width, "opacity": 0.55,
             "marker": {"color": color}}
            for name, y, color in sides
        ]  # fmt: skip
        barmode = "overlay"
    else:
        traces = [
            {"type": "bar", "name": name, "x": dist["values"], "y": y, "marker": {"color": color}}
            for name, y, color in sides
        ]
        barmode = "group"
    title = f"{feature['feature']}: baseline vs current<br><sub>{_verdict(feature)}</sub>"
    layout = {
        "title": {"text": title},
        "barmode": barmode,
        "xaxis": {"title": {"text": feature["feature"]}},
        "yaxis": {"title": {"text": "share of rows"}},
    }
    return {"data": traces, "layout": layout}


def history_figure(feature: str, runs: list[dict[str, Any]]) -> Figure:
    """Drift score of one feature over runs (oldest first), its threshold, drifted runs marked."""
    points = [r for r in runs if r.get("scores", {}).get(feature) is not None]
    if not points:
        raise ValueError(f"no run has a drift score for {feature!r}")
    x = [str(r["started_at"]) for r in points]
    y = [r["scores"][feature] for r in points]
    tests = {r.get("tests", {}).get(feature) for r in points} - {None}
    test = ", ".join(sorted(tests)) or "score"
    p_value = bool(tests) and not tests & DISTANCE_TESTS
    drifted = [feature in r.get("drifted_features", []) for r in points]
    traces: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines+markers", "name": test, "x": x, "y": y,
         "text": [r.get("_id", r.get("id", "")) for r in points],
         "marker": {"size": 9, "color": [DRIFT if d else BASELINE for d in drifted]}},
    ]  # fmt: skip
    limits = [r.get("thresholds", {}).get(feature) for r in points]
    if any(t is not None for t in limits):
        traces.append(
            {"type": "scatter", "mode": "lines", "name": "threshold", "x": x, "y": limits,
             "line": {"dash": "dash", "color": DRIFT}}
        )  # fmt: skip
    rule = "p-value: drift below the threshold" if p_value else "drift at or above the threshold"
    layout = {
        "title": {"text": f"{feature}: drift score over time<br><sub>{test}; {rule}</sub>"},
        "xaxis": {"title": {"text": "run started at (UTC)"}},
        "yaxis": {"title": {"text": test}, "type": "log" if p_value and min(y) > 0 else "linear"},
    }
    return {"data": traces, "layout": layout}


def to_html(figure: Figure) -> str:
    """A self-contained HTML page (plotly.js embedded) showing the figure."""
    import plotly.io as pio  # type: ignore[import-untyped]  # no type information shipped

    html: str = pio.to_html(figure, include_plotlyjs=True, full_html=True, validate=False)
    return html

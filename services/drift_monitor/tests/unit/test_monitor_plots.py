"""Per-feature distributions kept with each check, and the plots drawn from them."""

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import plotly.graph_objects as go  # type: ignore[import-untyped]  # no type information shipped
import pyarrow as pa  # type: ignore[import-untyped]  # no type information shipped
import pyarrow.dataset as pads  # type: ignore[import-untyped]  # no type information shipped
import pytest

from modelops_drift_monitor import distributions, plots
from modelops_drift_monitor.baseline import build_baseline
from modelops_drift_monitor.drift import check_drift
from modelops_drift_monitor.reports import result_json


def table(n: int, shift: float, seed: int) -> pads.Dataset:
    rng = np.random.default_rng(seed)
    return pads.dataset(
        pa.table(
            {
                "x": rng.normal(shift, 1, n),
                "few": rng.choice([0.5, 1.5], n),
                "colour": rng.choice(
                    ["red", "blue", "green"], n, p=[0.6 - shift / 4, 0.2, 0.2 + shift / 4]
                ),
            }
        )
    )


def checked(shift: float) -> dict[str, dict[str, Any]]:
    baseline = build_baseline(table(2000, 0, 1))
    result = result_json(check_drift(baseline, table(1500, shift, 2)), {}, [])
    return {f["feature"]: f for f in result["features"]}


def test_each_checked_feature_keeps_its_baseline_and_current_shares() -> None:
    calm, moved = checked(0.0), checked(0.8)
    x = moved["x"]["distribution"]
    assert x["type"] == "histogram"
    assert len(x["edges"]) == len(x["reference"]) + 1 == len(x["current"]) + 1
    assert sum(x["reference"]) == pytest.approx(1)
    assert sum(x["current"]) == pytest.approx(1)
    centers = np.diff(x["edges"]) / 2 + x["edges"][:-1]
    assert np.dot(centers, x["current"]) - np.dot(centers, x["reference"]) == pytest.approx(
        0.8, abs=0.15
    )
    assert calm["few"]["distribution"]["type"] == "bars"  # numerical with few values: per value
    assert sorted(calm["few"]["distribution"]["values"]) == ["0.5", "1.5"]
    colour = moved["colour"]["distribution"]
    assert colour["values"][0] == "red"  # most frequent first
    shares = dict(zip(colour["values"], colour["current"], strict=True))
    assert shares["green"] == pytest.approx(0.4, abs=0.05)


def test_rare_values_are_summed_and_constant_columns_still_get_bins() -> None:
    many = {f"v{i}": 100 - i for i in range(40)}
    bars = distributions.categorical(many, {"v0": 5, "new": 5})
    assert len(bars["values"]) == distributions.MAX_VALUES + 1
    assert bars["values"][-1] == distributions.OTHER
    assert sum(bars["reference"]) == pytest.approx(1)
    flat = distributions.numerical(np.full(50, 2.0), np.full(30, 2.0), reference_unique=1)
    assert flat["type"] == "bars"
    assert flat["values"] == ["2.0"]
    wide = np.arange(100.0)
    assert (
        distributions.numerical(wide, wide, 100)["current"]
        == distributions.numerical(wide, wide, 100)["reference"]
    )


def test_figures_are_plotly_documents_and_pages_embed_plotly() -> None:
    moved = checked(0.8)
    figure = plots.distribution_figure(moved["x"])
    assert [t["name"] for t in figure["data"]] == ["baseline", "current"]
    assert "DRIFT" in figure["layout"]["title"]["text"]
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    runs = [
        {"_id": f"r{i}", "started_at": t0 + timedelta(hours=i), "scores": {"x": s},
         "thresholds": {"x": 0.1}, "tests": {"x": "wasserstein"},
         "drifted_features": ["x"] if s >= 0.1 else []}
        for i, s in enumerate([0.02, 0.04, 0.5])
    ]  # fmt: skip
    history = plots.history_figure("x", runs)
    score, limit = history["data"]
    assert score["y"] == [0.02, 0.04, 0.5]
    assert score["marker"]["color"][-1] == plots.DRIFT != score["marker"]["color"][0]
    assert limit["y"] == [0.1, 0.1, 0.1]
    assert history["layout"]["yaxis"]["type"] == "linear"
    with pytest.raises(ValueError, match="no run has"):
        plots.history_figure("y", runs)
    for valid in (figure, history):  # plotly's schema validation: raises on unknown properties
        go.Figure(valid)
    page = plots.to_html(figure)
    assert page.startswith("<html>")
    assert "Plotly.newPlot" in page
    assert "baseline vs current" in page

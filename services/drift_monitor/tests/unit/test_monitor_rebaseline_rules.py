"""Rebaselining on promotion: it needs an endpoint's collected data, and each baseline
generation has its own objects (runs read the newest; older ones stay readable)."""

import pyarrow as pa  # type: ignore[import-untyped]  # no type information shipped
import pyarrow.dataset as pads  # type: ignore[import-untyped]  # no type information shipped
import pytest
from pydantic import ValidationError

from modelops_drift_monitor.baseline import build_baseline
from modelops_drift_monitor.domain import CreateMonitor, baseline_keys

BODY = {"name": "m", "model_name": "churn", "baseline": {"dataset": "churn-train"}}


def test_rebaselining_needs_the_endpoint_whose_data_becomes_the_baseline() -> None:
    with pytest.raises(ValidationError, match="needs endpoint_name"):
        CreateMonitor.model_validate({**BODY, "rebaseline_on_promotion": True})
    monitor = CreateMonitor.model_validate(
        {**BODY, "endpoint_name": "churn", "rebaseline_on_promotion": True}
    )
    assert monitor.rebaseline_window_s is None  # the monitor's window_s
    with pytest.raises(ValidationError):
        CreateMonitor.model_validate({**BODY, "rebaseline_window_s": 1})


def test_each_baseline_generation_has_its_own_objects() -> None:
    assert baseline_keys("abc", 0) == (
        "monitors/abc/baseline.npz",
        "monitors/abc/baseline-sample.parquet",
    )  # where monitors created before generations keep theirs
    assert baseline_keys("abc", 2) == (
        "monitors/abc/g2/baseline.npz",
        "monitors/abc/g2/baseline-sample.parquet",
    )


def test_a_column_without_any_value_is_skipped_not_fatal() -> None:
    # a production window taken before its labels arrived: the label column is all null
    table = pa.table({"f0": [1.0, 2.0, 3.0], "label": pa.nulls(3)})
    baseline = build_baseline(pads.dataset(table))
    assert list(baseline.columns) == ["f0"]
    assert baseline.skipped == {"label": "every value is null"}

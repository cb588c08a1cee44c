"""Conversion to ONNX of real sklearn, XGBoost and LightGBM models, checked on samples."""

import pickle
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier

from modelops_builder.converters import NoConverter, convert_and_verify

X, Y = load_breast_cancer(return_X_y=True)
X = X[:200].astype(np.float32)
Y = Y[:200]


def pickle_to(tmp_path: Path, model: object) -> Path:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    return path


@pytest.mark.parametrize(
    "model",
    [
        RandomForestClassifier(n_estimators=10, random_state=0),
        GradientBoostingRegressor(n_estimators=10),
    ],
    ids=["classifier", "regressor"],
)
def test_sklearn_converts_within_tolerance(tmp_path: Path, model: object) -> None:
    model.fit(X, Y)  # type: ignore[attr-defined]  # sklearn estimators
    result = convert_and_verify("sklearn", pickle_to(tmp_path, model), X[:50].tolist(), 1e-4)
    assert result.passed
    assert result.max_abs_diff <= 1e-4
    assert result.rows_checked == 50


def test_xgboost_and_lightgbm_convert(tmp_path: Path) -> None:
    import lightgbm
    import xgboost

    xgb = xgboost.XGBClassifier(n_estimators=10, max_depth=3).fit(X, Y)
    lgb = lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(X, Y)
    for framework, model in (("xgboost", xgb), ("lightgbm", lgb)):
        result = convert_and_verify(framework, pickle_to(tmp_path, model), None, 1e-4)
        assert result.passed, (framework, result.max_abs_diff)
        assert result.sample_synthesized


def test_no_converter_is_refused_with_reason(tmp_path: Path) -> None:
    with pytest.raises(NoConverter, match="no ONNX converter for framework 'pytorch'"):
        convert_and_verify("pytorch", tmp_path / "model.pt", None, 1e-4)

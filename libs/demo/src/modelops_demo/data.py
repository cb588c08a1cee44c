"""The demo's data and model: scikit-learn's bundled breast-cancer set, a logistic regression
converted to ONNX, and the shift that production traffic undergoes."""

from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no type information shipped
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

SHIFTED = ("worst_radius", "worst_perimeter", "worst_area", "mean_concave_points")
"""Features whose production values move (by SHIFT_SDS of their training spread)."""
SHIFT_SDS = 1.5
SHIFTED_AT = (7, 20, 22, 23)
"""Their positions among the features (the collector names a list row's values f0, f1, ...)."""
STEADY_AT = (1, 4, 9, 15)
"""Positions of four features that do not move (the monitor watches these eight)."""


def cancer() -> tuple[pd.DataFrame, pd.Series]:
    """Features (snake_case names) and the label (0 malignant, 1 benign)."""
    data = load_breast_cancer(as_frame=True)
    x = data.data.rename(columns=lambda c: c.replace(" ", "_"))
    return x, data.target.rename("label")


def shift(x: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """The same rows as production sees them after the shift."""
    moved = x.copy()
    for feature in SHIFTED:
        moved[feature] = moved[feature] + SHIFT_SDS * reference[feature].std()
    return moved


def fit(x: pd.DataFrame, y: pd.Series, seed: int = 0) -> Pipeline:
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    return model.fit(x, y)


def save_onnx(model: Pipeline, n_features: int, folder: Path) -> Path:
    """`folder/model.onnx`: one float input [N, n_features]; outputs label and probabilities."""
    folder.mkdir(parents=True, exist_ok=True)
    onx = to_onnx(model, np.zeros((1, n_features), dtype=np.float32), target_opset=17)
    (folder / "model.onnx").write_bytes(onx.SerializeToString())
    return folder / "model.onnx"


def save_table(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return path

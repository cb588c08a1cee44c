"""The demo's retraining job: fit on the endpoint's recent labelled production data, convert to
ONNX, and declare it as the run's model output (the registry registers it)."""

import os
from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no type information shipped
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelops_client.tracking import log_metric, output_dir, param

features = [f"f{i}" for i in range(int(param("features", "30") or 30))]
frame = pd.read_parquet(Path(os.environ["MODELOPS_INPUT_RECENT"]) / "collected.parquet")
x, y = frame[features].astype("float64"), frame["label"].astype("int64")
if param("flip_labels") == "true":
    y = 1 - y  # a deliberately wrong model: the policy must reject it
print(f"training on {len(frame)} labelled production rows, {len(features)} features")
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
log_metric("cv_accuracy", float(np.mean(cross_val_score(model, x, y, cv=3))))
model.fit(x, y)
log_metric("train_accuracy", float(model.score(x, y)))
log_metric("rows", float(len(frame)))
folder = output_dir() / "model"
folder.mkdir(parents=True, exist_ok=True)
onx = to_onnx(model, np.zeros((1, len(features)), dtype=np.float32), target_opset=17)
(folder / "model.onnx").write_bytes(onx.SerializeToString())
print(f"wrote {folder / 'model.onnx'}")

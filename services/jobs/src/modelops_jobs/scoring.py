"""Score an ONNX model version on a feature matrix, in process (ONNX is safe to load).

The first output is the prediction (a label or a value); a second output of class
probabilities (a matrix, or scikit-learn's list of {class: probability}) gives the positive
class's score for ROC AUC.
"""

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from modelops_servicekit import model_metrics
from modelops_servicekit.errors import Invalid

DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
}


def model_file(folder: Path) -> Path:
    """The version's ONNX file."""
    found = sorted(folder.rglob("*.onnx"))
    if not found:
        raise Invalid("the version has no ONNX file: only ONNX versions are evaluated")
    return found[0]


def _feeds(session: ort.InferenceSession, x: np.ndarray) -> dict[str, np.ndarray]:
    inputs = session.get_inputs()
    if len(inputs) == 1:
        return {inputs[0].name: x.astype(DTYPES.get(inputs[0].type, np.float32))}
    if len(inputs) != x.shape[1]:
        raise Invalid(f"the model takes {len(inputs)} inputs for {x.shape[1]} features")
    return {
        spec.name: x[:, [i]].astype(DTYPES.get(spec.type, np.float32))
        for i, spec in enumerate(inputs)
    }


def _positive_scores(raw: Any) -> list[float] | None:
    if isinstance(raw, np.ndarray) and raw.ndim == 2 and raw.shape[1] >= 2:
        return [float(v) for v in raw[:, -1]]
    if isinstance(raw, list) and raw and isinstance(raw[0], dict):
        last = sorted(raw[0], key=str)[-1]
        return [float(row[last]) for row in raw]
    return None


def predict(folder: Path, x: np.ndarray) -> tuple[list[Any], list[float] | None]:
    """(predictions, positive-class scores or None)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    try:
        session = ort.InferenceSession(
            str(model_file(folder)), options, providers=["CPUExecutionProvider"]
        )
        outputs = session.run(None, _feeds(session, x))
    except (ort.capi.onnxruntime_pybind11_state.Fail, ValueError) as exc:
        raise Invalid(f"the model cannot score the evaluation data: {exc}") from exc
    labels = np.asarray(outputs[0]).reshape(len(x), -1)[:, 0].tolist()
    return labels, _positive_scores(outputs[1]) if len(outputs) > 1 else None


def metrics(folder: Path, x: np.ndarray, y: list[Any], task: str) -> dict[str, float]:
    """The model's quality metrics on (x, y)."""
    predictions, scores = predict(folder, x)
    if task == "regression":
        return model_metrics.regression([float(v) for v in y], [float(v) for v in predictions])
    return model_metrics.classification(_labels(y), _labels(predictions), scores)


def _labels(values: list[Any]) -> list[Any]:
    """Whole floats as ints, so a label 1.0 from one source equals a prediction 1."""
    return [int(v) if isinstance(v, float) and v.is_integer() else v for v in values]

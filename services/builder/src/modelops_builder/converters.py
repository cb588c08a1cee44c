"""scikit-learn, XGBoost and LightGBM models to ONNX, checked against the original on samples.

Synchronous and CPU-bound: called in a thread. Loads pickles only for versions the registry
marks trusted (the caller checks).
"""

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CONVERTIBLE = ("sklearn", "xgboost", "lightgbm")
OPSET = {"": 17, "ai.onnx.ml": 3}


class NoConverter(ValueError):
    """The model cannot be converted; the message says why."""


@dataclass(frozen=True)
class Conversion:
    """An ONNX model and the check that it matches its source."""

    onnx_bytes: bytes
    input_name: str
    n_features: int
    rows_checked: int
    max_abs_diff: float
    label_agreement: float | None
    tolerance: float
    passed: bool
    sample_synthesized: bool


def load_model(framework: str, path: Path) -> Any:
    """The framework's model object from a file of the version."""
    if path.suffix in (".pkl", ".pickle", ".joblib"):
        if path.suffix == ".joblib":
            import joblib  # type: ignore[import-untyped]  # ships no stubs

            return joblib.load(path)
        with path.open("rb") as f:
            return pickle.load(f)  # noqa: S301  # only for versions registered as trusted
    if framework == "xgboost" and path.suffix in (".json", ".ubj"):
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(str(path))
        return booster
    if framework == "lightgbm" and path.suffix == ".txt":
        import lightgbm

        return lightgbm.Booster(model_file=str(path))
    raise NoConverter(f"{path.name}: no loader for a {framework} model stored as {path.suffix}")


def n_features(model: Any) -> int:
    for attr in ("n_features_in_", "n_features_"):
        if hasattr(model, attr):
            return int(getattr(model, attr))
    if hasattr(model, "num_features"):
        return int(model.num_features())
    raise NoConverter("cannot tell how many features the model takes: give a sample_input")


def to_onnx(framework: str, model: Any, features: int) -> bytes:
    """Convert with skl2onnx (sklearn) or onnxmltools (XGBoost, LightGBM)."""
    if framework == "sklearn":
        from skl2onnx import to_onnx as skl_to_onnx
        from sklearn.base import is_classifier

        options = {id(model): {"zipmap": False}} if is_classifier(model) else None
        sample = np.zeros((1, features), dtype=np.float32)
        try:
            onx = skl_to_onnx(model, sample, options=options, target_opset=OPSET)
        except Exception as exc:
            raise NoConverter(f"skl2onnx cannot convert {type(model).__name__}: {exc}") from exc
        return bytes(onx.SerializeToString())
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    types = [("input", FloatTensorType([None, features]))]
    try:
        if framework == "xgboost":
            onx = onnxmltools.convert_xgboost(model, initial_types=types, target_opset=15)
        elif framework == "lightgbm":
            onx = onnxmltools.convert_lightgbm(
                model, initial_types=types, zipmap=False, target_opset=15
            )
        else:
            raise NoConverter(f"no ONNX converter for {framework!r}; supported: {CONVERTIBLE}")
    except NoConverter:
        raise
    except Exception as exc:
        raise NoConverter(f"onnxmltools cannot convert {type(model).__name__}: {exc}") from exc
    return bytes(onx.SerializeToString())


def _reference(model: Any, x: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], Any]:
    """(scores to compare, labels or None) from the original model."""
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(x)), np.asarray(model.predict(x))
    if type(model).__module__.startswith("xgboost") and hasattr(model, "inplace_predict"):
        return np.asarray(model.inplace_predict(x)), None
    return np.asarray(model.predict(x)), None


def verify(
    model: Any, onnx_bytes: bytes, x: np.ndarray[Any, Any], tolerance: float
) -> tuple[str, float, float | None]:
    """(input name, max |onnx - original| on the scores, label agreement)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    outs = sess.run(None, {name: x})
    expected, labels = _reference(model, x)
    got = outs[-1] if len(outs) > 1 else outs[0]
    got = np.asarray(got, dtype=np.float64).reshape(len(x), -1)
    expected = expected.astype(np.float64).reshape(len(x), -1)
    if got.shape != expected.shape and expected.shape[1] == 1 and got.shape[1] == 2:
        got = got[:, 1:]  # binary boosters score the positive class only
    if got.shape != expected.shape:
        raise NoConverter(
            f"ONNX outputs {got.shape} do not line up with the model's {expected.shape}"
        )
    diff = float(np.max(np.abs(got - expected))) if got.size else 0.0
    agreement = None
    if labels is not None and len(outs) > 1:
        agreement = float(np.mean(np.asarray(outs[0]).reshape(-1) == labels.reshape(-1)))
    return name, diff, agreement


def convert_and_verify(
    framework: str, path: Path, sample: Any, tolerance: float, rows: int = 200
) -> Conversion:
    """Load, convert and check on the sample (or on synthesized rows when none is given)."""
    if framework not in CONVERTIBLE:
        raise NoConverter(
            f"no ONNX converter for framework {framework!r}; supported: {', '.join(CONVERTIBLE)}"
        )
    model = load_model(framework, path)
    features = n_features(model) if sample is None else np.asarray(sample).shape[-1]
    if sample is None:
        x = np.random.default_rng(0).normal(size=(rows, features)).astype(np.float32)
    else:
        x = np.asarray(sample, dtype=np.float32).reshape(-1, features)
    onnx_bytes = to_onnx(framework, model, features)
    name, diff, agreement = verify(model, onnx_bytes, x, tolerance)
    passed = diff <= tolerance and (agreement is None or agreement == 1.0)
    return Conversion(
        onnx_bytes, name, features, len(x), diff, agreement, tolerance, passed, sample is None
    )

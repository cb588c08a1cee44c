"""Model quality on labelled rows: classification and regression metrics, and their drop."""

import numpy as np
from numpy.typing import NDArray

HIGHER_IS_BETTER = {"accuracy", "precision", "recall", "f1", "roc_auc", "r2"}


def _roc_auc(y: NDArray[np.int64], score: NDArray[np.float64]) -> float | None:
    """Binary ROC AUC by ranks (ties averaged); None without both classes."""
    pos = int(y.sum())
    neg = y.size - pos
    if pos == 0 or neg == 0:
        return None
    order = np.argsort(score, kind="stable")
    ranks = np.empty(y.size, dtype=np.float64)
    sorted_scores = score[order]
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def classification(
    labels: list[object], predictions: list[object], scores: list[float] | None = None
) -> dict[str, float]:
    """Accuracy, macro precision/recall/F1 (binary: of the positive class) and ROC AUC."""
    y, p = np.array([str(v) for v in labels]), np.array([str(v) for v in predictions])
    classes = sorted(set(y.tolist()) | set(p.tolist()))
    out = {"accuracy": float(np.mean(y == p)), "rows": float(y.size)}
    binary = len(classes) <= 2
    targets = [classes[-1]] if binary else classes
    precision, recall, f1 = [], [], []
    for c in targets:
        tp = float(np.sum((p == c) & (y == c)))
        prec = tp / max(float(np.sum(p == c)), 1.0)
        rec = tp / max(float(np.sum(y == c)), 1.0)
        precision.append(prec)
        recall.append(rec)
        f1.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    out.update(
        precision=float(np.mean(precision)), recall=float(np.mean(recall)), f1=float(np.mean(f1))
    )
    if binary and scores is not None:
        auc = _roc_auc((y == classes[-1]).astype(np.int64), np.asarray(scores, dtype=np.float64))
        if auc is not None:
            out["roc_auc"] = auc
    return out


def regression(labels: list[float], predictions: list[float]) -> dict[str, float]:
    """MAE, RMSE and R²."""
    y, p = np.asarray(labels, dtype=np.float64), np.asarray(predictions, dtype=np.float64)
    err = p - y
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1 - float(np.sum(err**2)) / ss_tot if ss_tot else 0.0
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "r2": r2,
        "rows": float(y.size),
    }


def degradation(metric: str, value: float, baseline: float) -> float:
    """How much worse `value` is than `baseline` (positive = worse)."""
    return baseline - value if metric in HIGHER_IS_BETTER else value - baseline

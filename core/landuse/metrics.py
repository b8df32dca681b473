"""Scores of a probe's test predictions, for the three kinds of target.

Classification scores come from one confusion matrix so accuracy, precision,
recall and F1 always agree with each other. Macro averages follow scikit-learn's
convention (classes present in the truth or the predictions, 0 where undefined),
so our figures are comparable with published ones computed with it.
"""

from __future__ import annotations

import numpy as np

KL_EPSILON = 1e-8


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """(K, K) counts: rows are true classes, columns predicted classes."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(truth, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return matrix


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return np.divide(numerator, denominator, out=np.zeros(len(numerator)), where=denominator > 0)


def classification_metrics(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> dict:
    """Accuracy, macro precision/recall/F1, per-class F1 (all K classes) and the confusion matrix."""
    matrix = confusion_matrix(truth, predicted, n_classes)
    hits = np.diag(matrix).astype(np.float64)
    per_true, per_predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    precision = _safe_ratio(hits, per_predicted)
    recall = _safe_ratio(hits, per_true)
    f1 = _safe_ratio(2 * precision * recall, precision + recall)
    seen = (per_true + per_predicted) > 0
    return {
        "accuracy": float(hits.sum() / max(matrix.sum(), 1)),
        "macro_precision": float(precision[seen].mean()),
        "macro_recall": float(recall[seen].mean()),
        "macro_f1": float(f1[seen].mean()),
        "per_class_f1": f1,
        "confusion_matrix": matrix,
    }


def distribution_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict:
    """Mean over units of L1, Chebyshev (largest share error) and KL(truth || predicted)."""
    truth, predicted = np.asarray(truth, np.float64), np.asarray(predicted, np.float64)
    difference = np.abs(truth - predicted)
    ratio = np.log((truth + KL_EPSILON) / (predicted + KL_EPSILON))
    return {
        "l1": float(difference.sum(axis=1).mean()),
        "chebyshev": float(difference.max(axis=1).mean()),
        "kl": float((truth * ratio).sum(axis=1).mean()),
    }


def regression_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict:
    """R2 (1 - residual / total sum of squares), RMSE and MAE."""
    truth, predicted = np.asarray(truth, np.float64), np.asarray(predicted, np.float64)
    residual = truth - predicted
    total = float(((truth - truth.mean()) ** 2).sum())
    return {
        "r2": float(1.0 - (residual**2).sum() / total) if total > 0 else 0.0,
        "rmse": float(np.sqrt((residual**2).mean())),
        "mae": float(np.abs(residual).mean()),
    }

"""Binary classification metrics on person scores (numpy only)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Person-size buckets by source box height in pixels: (name, low, high).
SIZE_BUCKETS = (("small <64px", 0.0, 64.0), ("medium 64-128px", 64.0, 128.0), ("large >=128px", 128.0, float("inf")))


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False-positive rates, true-positive rates and thresholds (descending), ties merged."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, np.float64)
    if labels.all() or not labels.any():
        raise ValueError("ROC needs both positive and negative samples")
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    distinct = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tps = np.cumsum(y)[distinct]
    fps = (distinct + 1) - tps
    tpr = np.r_[0.0, tps / y.sum()]
    fpr = np.r_[0.0, fps / (~y).sum()]
    return fpr, tpr, np.r_[np.inf, s[distinct]]


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half)."""
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(np.trapezoid(tpr, fpr))


@dataclass
class OperatingPoint:
    threshold: float
    accuracy: float
    precision: float
    recall: float
    false_positive_rate: float


def operating_point(labels: np.ndarray, scores: np.ndarray, threshold: float) -> OperatingPoint:
    """Accuracy, precision, recall and FPR when ``score >= threshold`` means person."""
    y = np.asarray(labels).astype(bool)
    p = np.asarray(scores) >= threshold
    tp, fp = int((p & y).sum()), int((p & ~y).sum())
    return OperatingPoint(
        threshold=float(threshold),
        accuracy=float((p == y).mean()),
        precision=tp / max(tp + fp, 1),
        recall=tp / max(int(y.sum()), 1),
        false_positive_rate=fp / max(int((~y).sum()), 1),
    )


def threshold_at_fpr(labels: np.ndarray, scores: np.ndarray, target_fpr: float) -> float:
    """Lowest threshold whose false-positive rate on ``labels`` stays <= ``target_fpr``."""
    fpr, _, thr = roc_curve(labels, scores)
    ok = np.nonzero(fpr <= target_fpr)[0]
    return float(min(thr[ok[-1]], 1.0))


def threshold_at_recall(labels: np.ndarray, scores: np.ndarray, target_recall: float) -> float:
    """Highest threshold that still keeps at least ``target_recall`` of the positives."""
    _, tpr, thr = roc_curve(labels, scores)
    return float(min(thr[np.nonzero(tpr >= target_recall)[0][0]], 1.0))


def recall_by_size(labels: np.ndarray, scores: np.ndarray, heights: np.ndarray, threshold: float) -> dict[str, float | None]:
    """Recall per person-size bucket (``None`` where a bucket has no person)."""
    y = np.asarray(labels).astype(bool)
    out: dict[str, float | None] = {}
    for name, lo, hi in SIZE_BUCKETS:
        sel = y & (heights >= lo) & (heights < hi)
        out[name] = float((np.asarray(scores)[sel] >= threshold).mean()) if sel.any() else None
    return out

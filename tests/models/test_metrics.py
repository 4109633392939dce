"""Metrics on person scores."""
import numpy as np
import pytest

from models.metrics import operating_point, recall_by_size, roc_auc, threshold_at_fpr, threshold_at_recall


def test_auc_of_perfect_reversed_and_tied_scores():
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert roc_auc(y, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert roc_auc(y, np.full(4, 0.5)) == 0.5


def test_auc_matches_the_pairwise_definition():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.random(300) + 0.3 * y, 2)
    pos, neg = s[y == 1], s[y == 0]
    pairs = (pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean()
    assert roc_auc(y, s) == pytest.approx(pairs)


def test_auc_needs_both_classes():
    with pytest.raises(ValueError):
        roc_auc(np.ones(3), np.ones(3))


def test_operating_point_counts():
    op = operating_point(np.array([1, 1, 0, 0]), np.array([0.9, 0.4, 0.6, 0.1]), 0.5)
    assert (op.accuracy, op.precision, op.recall, op.false_positive_rate) == (0.5, 0.5, 0.5, 0.5)


def test_threshold_at_fpr_keeps_false_positives_under_target():
    rng = np.random.default_rng(1)
    y = np.r_[np.zeros(1000), np.ones(100)]
    s = np.r_[rng.random(1000) * 0.8, 0.5 + rng.random(100) * 0.5]
    thr = threshold_at_fpr(y, s, 0.01)
    assert ((s >= thr) & (y == 0)).sum() <= 10


def test_recall_by_size_buckets():
    y = np.array([1, 1, 1, 0])
    r = recall_by_size(y, np.array([0.9, 0.1, 0.9, 0.9]), np.array([30, 40, 200, 0]), 0.5)
    assert r == {"small <64px": 0.5, "medium 64-128px": None, "large >=128px": 1.0}


def test_threshold_at_recall_keeps_the_wanted_share_of_persons():
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.4, 0.2, 0.85, 0.3, 0.1, 0.05])
    assert threshold_at_recall(labels, scores, 0.75) == 0.4
    assert threshold_at_recall(labels, scores, 1.0) == 0.2

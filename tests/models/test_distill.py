"""Distillation: a teacher scores every training crop once (cached), its score mixes into the target."""
import numpy as np
import pytest

from models import SHIPPED_MODEL
from models.data.crops import CropSet
from models.distill import resize_crops, soft_targets, teacher_scores
from models.inference import TfliteClassifier


def crops(n=40, size=80, seed=0) -> CropSet:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
    return CropSet(images, (np.arange(n) % 2).astype(np.uint8), np.zeros(n, np.float32), np.full(n, "g"))


def test_targets_mix_the_teacher_in_by_class():
    labels = np.array([1, 1, 0, 0], np.uint8)
    teacher = np.array([0.0, 1.0, 0.0, 1.0], np.float32)
    np.testing.assert_allclose(soft_targets(labels, teacher, weight=0.5, positive_weight=0.2), [0.8, 1.0, 0.0, 0.5])


def test_a_teacher_scores_at_its_own_input_size_and_is_cached(tmp_path):
    data = crops()
    first = teacher_scores(data, [SHIPPED_MODEL], tmp_path)
    cached = list(tmp_path.glob("teacher-*.npy"))
    assert len(cached) == 1
    expected = TfliteClassifier(SHIPPED_MODEL, "litert").predict(resize_crops(data.images, 64))
    np.testing.assert_allclose(first, expected, atol=1e-6)
    np.save(cached[0], np.full(len(data), 0.25, np.float32))  # a second call reads the cache, not the model
    np.testing.assert_allclose(teacher_scores(data, [SHIPPED_MODEL], tmp_path), 0.25)


def test_other_crops_get_their_own_cache_entry(tmp_path):
    teacher_scores(crops(seed=0), [SHIPPED_MODEL], tmp_path)
    teacher_scores(crops(seed=1), [SHIPPED_MODEL], tmp_path)
    assert len(list(tmp_path.glob("teacher-*.npy"))) == 2


def test_no_teacher_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no teacher"):
        teacher_scores(crops(), [], tmp_path)


def test_resizing_keeps_crops_that_already_fit():
    data = crops(size=64)
    assert resize_crops(data.images, 64) is data.images
    assert resize_crops(data.images, 32).shape == (len(data), 32, 32)

"""Augmentation perturbs pixels like a camera would and is reproducible."""
import numpy as np

from models.augment import AugmentConfig, augment_batch

CROPS = np.random.default_rng(0).integers(0, 256, (16, 32, 32), dtype=np.uint8)


def test_shape_and_dtype_are_kept_and_input_untouched():
    before = CROPS.copy()
    out = augment_batch(CROPS, np.random.default_rng(1), AugmentConfig())
    assert out.shape == CROPS.shape and out.dtype == np.uint8
    assert np.array_equal(CROPS, before)


def test_same_seed_same_result_other_seed_other_result():
    a = augment_batch(CROPS, np.random.default_rng(5), AugmentConfig())
    b = augment_batch(CROPS, np.random.default_rng(5), AugmentConfig())
    c = augment_batch(CROPS, np.random.default_rng(6), AugmentConfig())
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_everything_off_is_the_identity():
    off = AugmentConfig(flip_prob=0, exposure_prob=0, blur_prob=0, noise_prob=0, jpeg_prob=0, lowres_prob=0, stretch_prob=0)
    assert np.array_equal(augment_batch(CROPS, np.random.default_rng(0), off), CROPS)


def test_exposure_changes_brightness_both_ways():
    flat = np.full((200, 8, 8), 128, np.uint8)
    only = AugmentConfig(flip_prob=0, exposure_prob=1, blur_prob=0, noise_prob=0, jpeg_prob=0, lowres_prob=0, stretch_prob=0)
    means = augment_batch(flat, np.random.default_rng(0), only).reshape(200, -1).mean(axis=1)
    assert means.min() < 100 and means.max() > 156


def test_low_resolution_removes_fine_detail():
    only = AugmentConfig(flip_prob=0, exposure_prob=0, blur_prob=0, noise_prob=0, jpeg_prob=0, lowres_prob=1, lowres_min=8, stretch_prob=0)
    out = augment_batch(CROPS, np.random.default_rng(0), only)
    assert np.abs(np.diff(out.astype(int), axis=2)).mean() < np.abs(np.diff(CROPS.astype(int), axis=2)).mean()


def test_stretch_changes_the_width_of_an_upright_bar():
    bar = np.zeros((1, 32, 32), np.uint8)
    bar[0, :, 12:20] = 255
    only = AugmentConfig(flip_prob=0, exposure_prob=0, blur_prob=0, noise_prob=0, jpeg_prob=0, lowres_prob=0, stretch_prob=1, stretch_range=(1.5, 1.5))
    out = augment_batch(bar, np.random.default_rng(0), only)
    assert (out[0, 16] > 128).sum() == 12  # 8 px wide -> 12 px

"""The interpreter wrapper feeds models the input they expect and reads person scores."""
import subprocess
import sys

import numpy as np
import pytest

from models import SHIPPED_MODEL
from models.inference import Backend, TfliteClassifier
from tests.conftest import PEERS, need


def crops(n, size, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size), dtype=np.uint8)


def test_tflm_and_litert_agree_on_the_shipped_model():
    tflm = TfliteClassifier(SHIPPED_MODEL, Backend.TFLM)
    litert = TfliteClassifier(SHIPPED_MODEL, Backend.LITERT)
    x = crops(20, tflm.input_size)
    diff = np.abs(tflm.predict(x) - litert.predict(x, batch_size=7))
    # Same int8 graph; LiteRT's optimised kernels round a few intermediate values differently from
    # TFLM's reference kernels, which can move the int8 output by a few steps (1/256 each).
    assert diff.max() <= 4 / 256 and diff.mean() <= 1 / 256


def test_int8_input_is_pixel_minus_128():
    clf = TfliteClassifier(SHIPPED_MODEL)
    x = np.zeros((1, clf.input_size, clf.input_size), np.uint8)
    x[0, 0, :3] = [0, 128, 255]
    q = clf.quantize_input(x)
    assert q.dtype == np.int8 and list(q[0, 0, :3, 0]) == [-128, 0, 127]


def test_scores_are_probabilities():
    clf = TfliteClassifier(SHIPPED_MODEL)
    s = clf.predict(crops(10, clf.input_size))
    assert s.shape == (10,) and (s >= 0).all() and (s <= 1).all()


def test_two_class_logits_become_softmax_person_probability():
    clf = TfliteClassifier(need(PEERS / "wv_quality_micronets_vww2_50_50_INT8.tflite"), Backend.LITERT)
    assert clf.input_dtype == np.uint8 and clf.output_classes == 2
    s = clf.score_from_output(np.array([[10, 0], [0, 10], [5, 5]], np.uint8))
    assert s[0] < 0.01 and s[1] > 0.99 and s[2] == pytest.approx(0.5)


def test_peer_models_run_in_tflm():
    clf = TfliteClassifier(need(PEERS / "person_detect.tflite"), Backend.TFLM)
    assert (clf.input_size, clf.channels, clf.output_classes) == (96, 1, 2)
    assert clf.predict(crops(2, 96)).shape == (2,)


def test_wrong_crop_shape_is_a_clear_error():
    clf = TfliteClassifier(SHIPPED_MODEL)
    with pytest.raises(ValueError, match="expected uint8 crops"):
        clf.predict(crops(1, clf.input_size + 1))


def test_inference_runtime_never_imports_tensorflow():
    code = "import sys, models.inference, models.predict, models.adapt; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0

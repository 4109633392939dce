"""MACs and tensor arena are measured from the flatbuffer in the real TFLM interpreter."""
import json

import pytest

from models import SHIPPED_DIR, SHIPPED_MODEL
from models.inference.measure import CALIBRATION, count_macs, estimate_latency, min_arena_size
from tests.conftest import PEERS, need


def analytic_macs(arch: dict) -> int:
    """MACs of the architecture computed by hand from its config."""
    side = arch["input_size"] // 2
    channels = arch["stem_channels"]
    total = side * side * channels * 9
    for stride, out in arch["blocks"]:
        side = -(-side // stride)
        total += side * side * channels * 9 + side * side * channels * out
        channels = out
    return total + channels  # dense layer to one output


def test_shipped_model_macs_match_its_architecture():
    card = json.loads((SHIPPED_DIR / "model_card.json").read_text())
    assert count_macs(SHIPPED_MODEL.read_bytes()) == analytic_macs(card["training_config"]["architecture"])


def test_person_detect_macs_match_the_published_figure():
    macs = count_macs(need(PEERS / "person_detect.tflite").read_bytes())
    assert macs == pytest.approx(CALIBRATION["macs"], rel=0.001)


def test_min_arena_is_the_smallest_that_runs():
    import subprocess
    import sys

    arena = min_arena_size(SHIPPED_MODEL.read_bytes())
    probe = (f"from models.inference.measure import _fits; m = open({str(SHIPPED_MODEL)!r}, 'rb').read(); "
             f"print(_fits(m, {arena}), _fits(m, {arena - 16}))")  # in a process of its own: probes fork (see the next test)
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split() == ["True", "False"]


def test_person_detect_arena_is_about_the_published_85_kb():
    arena = min_arena_size(need(PEERS / "person_detect.tflite").read_bytes())
    assert 80_000 <= arena <= 90_000


def test_latency_scales_linearly_from_the_calibration_point():
    est = estimate_latency(CALIBRATION["macs"] // 2)
    assert est.esp32_ms == pytest.approx(CALIBRATION["esp32_ms"] / 2, rel=1e-3)
    assert est.esp32s3_ms == pytest.approx(CALIBRATION["esp32s3_ms"] / 2, rel=1e-3)


def test_measuring_the_arena_never_forks_the_calling_process():
    """The probes, which can crash TFLM on a short arena, run in a process of their own: a fork of the caller (a node
    with its MQTT threads, inside the demo) could deadlock, and a Ctrl-C or SIGTERM handled in the fork's own
    callbacks was lost (the demo ran on to the end after being told to stop)."""
    import os

    forked = []
    armed = [True]
    os.register_at_fork(before=lambda: armed[0] and forked.append(os.getpid()))  # callbacks cannot be removed: disarmed below
    try:
        arena = min_arena_size(SHIPPED_MODEL.read_bytes(), granularity=4096)
    finally:
        armed[0] = False
    assert forked == []
    assert 16_384 <= arena <= 65_536 and arena % 4096 == 0

"""Export: the C array holds exactly the .tflite bytes, with length, arena and ops for firmware."""
import json
import re

import pytest

from models import SHIPPED_MODEL
from models.export import BUDGETS, export


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    card = export(SHIPPED_MODEL, out, {"input_size": 64, "threshold": 0.7, "model_file": "person_detector.tflite"}, None)
    return out, card


def c_array_bytes(source: str) -> bytes:
    body = source.split("{", 1)[1].split("}", 1)[0]
    return bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2})", body))


def test_c_array_bytes_equal_the_tflite_bytes(exported):
    out, _ = exported
    source = (out / "person_detector_model_data.cc").read_text()
    assert c_array_bytes(source) == SHIPPED_MODEL.read_bytes() == (out / "person_detector.tflite").read_bytes()
    assert "alignas(16) const unsigned char g_person_detector_model_data[]" in source
    assert f"g_person_detector_model_data_len = {SHIPPED_MODEL.stat().st_size};" in source


def test_header_carries_arena_input_threshold_and_ops(exported):
    out, card = exported
    header = (out / "person_detector_model_data.h").read_text()
    arena = int(re.search(r"kPersonDetectorArenaSize = (\d+);", header).group(1))
    assert arena == card["firmware_arena_bytes"] >= card["cost"]["arena_bytes"] and arena % 1024 == 0
    assert "kPersonDetectorInputSize = 64;" in header
    assert "kPersonDetectorThresholdQ = 51;" in header  # round(0.7 * 256) - 128
    for op in card["ops"]:
        assert op in ("CONV_2D", "DEPTHWISE_CONV_2D", "MEAN", "FULLY_CONNECTED", "LOGISTIC", "RESHAPE", "AVERAGE_POOL_2D")
    assert "resolver.AddConv2D();" in header


def test_model_card_json_and_markdown(exported):
    out, _card = exported
    doc = json.loads((out / "model_card.json").read_text())
    assert doc["threshold"] == 0.7 and set(doc["budgets"]) == set(BUDGETS)
    md = (out / "MODEL_CARD.md").read_text()
    assert "siwookim / capston2, Roboflow Universe" in md and "CC BY 4.0" in md
    assert "Calibration" in md and "ESP32-S3" in md

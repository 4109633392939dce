"""detector.confirm_model: the model screens, a second model confirms what passes; cost and memory add up."""
import csv
import json
import shutil

import pytest

from camera_node.config import DetectorConfig, NodeConfig
from camera_node.simulate import simulate
from models import SHIPPED_MODEL
from models.inference import TfliteClassifier
from models.inference.cascade import open_cascade
from smartcam.cli import main


def screen_model(tmp_path, screen_threshold):
    folder = tmp_path / f"screen-{screen_threshold}"
    folder.mkdir()
    model = folder / "person_detector.tflite"
    shutil.copy(SHIPPED_MODEL, model)
    (folder / "training.json").write_text(json.dumps({"model_file": model.name, "threshold": 0.9, "screen_threshold": screen_threshold}))
    return model


def run(tmp_path, video, screen_threshold, name, dump=None):
    cfg = NodeConfig(detector=DetectorConfig(model=screen_model(tmp_path, screen_threshold), confirm_model=SHIPPED_MODEL))
    return simulate(cfg, str(video), tmp_path / name, progress=False, dump_crops=dump)


def test_what_the_screen_passes_is_confirmed_and_costs_its_macs(tmp_path, moving_video):
    one_stage = simulate(NodeConfig(), str(moving_video), tmp_path / "one", progress=False)
    everything = run(tmp_path, moving_video, 0.001, "all")
    nothing = run(tmp_path, moving_video, 0.999, "none")
    assert everything["confirmations"] > 0 and nothing["confirmations"] == 0
    assert one_stage["confirmations"] == 0
    # The confirmation model here is the screen's twin: each confirmation costs one more invoke of inference time.
    per_invoke = nothing["energy"]["time_share"]["inference"] / nothing["inferences"]
    spent = everything["inferences"] + everything["confirmations"]
    assert everything["energy"]["time_share"]["inference"] == pytest.approx(spent * per_invoke, rel=1e-3)
    assert everything["budget"]["arena_bytes"]["value"] == 2 * one_stage["budget"]["arena_bytes"]["value"]
    assert everything["budget"]["flash_bytes"]["value"] > one_stage["budget"]["flash_bytes"]["value"]


def test_model_predict_with_confirm_gives_the_nodes_cascade_scores(tmp_path, moving_video):
    run(tmp_path, moving_video, 0.001, "node", dump=tmp_path / "crops")
    with (tmp_path / "crops" / "labels.csv").open() as f:
        node = {r["image"]: float(r["score"]) for r in csv.DictReader(f)}
    out = tmp_path / "scores.csv"
    code = main(["model", "predict", "--images", str(tmp_path / "crops"), "--out", str(out),
                 "--model", str(tmp_path / "screen-0.001" / "person_detector.tflite"),
                 "--confirm", str(SHIPPED_MODEL)])
    assert code == 0
    for r in csv.DictReader(out.open()):
        assert abs(float(r["score"]) - node[r["image"]]) <= 5e-5 + 1e-7
        assert float(r["score"]) >= 0.5  # every crop passed the screen


def test_a_screen_model_without_a_recorded_screen_threshold_is_refused(tmp_path):
    with pytest.raises(ValueError, match="screen_threshold"):
        open_cascade(TfliteClassifier(SHIPPED_MODEL), tmp_path / "bare.tflite", SHIPPED_MODEL, "tflm")

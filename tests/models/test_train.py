"""A few training steps on tiny real files produce a reproducible int8 model that runs in TFLM."""
import json

import numpy as np
import pytest

from models.config import ConfigError, TrainConfig, load_train_config
from models.inference import TfliteClassifier
from models.train import train

pytest.importorskip("tensorflow")


def tiny_config(yolo_split, moving_video, **extra) -> TrainConfig:
    return TrainConfig.model_validate(
        {
            "seed": 3,
            "data_root": str(yolo_split.parent),
            "train": {"yolo": [yolo_split.name], "negative_videos": [str(moving_video)]},
            "validation": {"yolo": [yolo_split.name]},
            "architecture": {"input_size": 32, "stem_channels": 4, "blocks": [[2, 8]]},
            "epochs": 1,
            "max_steps": 3,
            "batch_size": 16,
            "representative_samples": 10,
            **extra,
        }
    )


def test_smoke_training_is_reproducible_and_runs_in_tflm(tmp_path, yolo_split, moving_video):
    cfg = tiny_config(yolo_split, moving_video)
    a = train(cfg, tmp_path / "a", tmp_path / "cache")
    b = train(cfg, tmp_path / "b", tmp_path / "cache")
    model_a = (tmp_path / "a" / "person_detector.tflite").read_bytes()
    model_b = (tmp_path / "b" / "person_detector.tflite").read_bytes()
    assert a["history"] == b["history"] and len(a["history"]) == 1
    crops = np.random.default_rng(0).integers(0, 256, (16, 32, 32), dtype=np.uint8)
    clf = TfliteClassifier(model_a)
    assert clf.input_size == 32
    assert np.array_equal(clf.predict(crops), TfliteClassifier(model_b).predict(crops))  # same seed, same model
    report = json.loads((tmp_path / "a" / "training.json").read_text())
    assert 0 <= report["threshold"] <= 1 and report["train_person_crops"] > 0


def test_config_rejects_unknown_keys_and_bad_values(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train: {yolo: [x]}\nvalidation: {yolo: [y]}\nepochz: 3\n")
    with pytest.raises(ConfigError, match="epochz"):
        load_train_config(path)
    path.write_text("train: {yolo: [x]}\nvalidation: {yolo: [y]}\nepochs: 0\n")
    with pytest.raises(ConfigError, match="epochs"):
        load_train_config(path)
    path.write_text("- not a mapping\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_train_config(path)


def test_the_shipped_recipe_validates():
    from models.cli import DEFAULT_CONFIG

    cfg = load_train_config(DEFAULT_CONFIG)
    assert cfg.train.yolo and cfg.validation.yolo and cfg.architecture.input_size == 64


def test_train_folder_option_adds_mined_negatives(tmp_path, yolo_split, moving_video):
    import cv2
    import yaml

    from smartcam.cli import main

    mined = tmp_path / "mined"
    mined.mkdir()
    for i in range(7):
        cv2.imwrite(str(mined / f"c{i}.png"), np.full((64, 64), 40 * i, np.uint8))
    (mined / "labels.csv").write_text("image,label,frame,score\n" + "".join(f"c{i}.png,0,{i},0.9\n" for i in range(7)))
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(tiny_config(yolo_split, moving_video).model_dump(mode="json")))
    base = ["model", "train", "--config", str(config), "--cache", str(tmp_path / "cache"), "--max-steps", "1"]
    assert main([*base, "--out", str(tmp_path / "plain")]) == 0
    assert main([*base, "--out", str(tmp_path / "mined-run"), "--folder", str(mined)]) == 0
    plain = json.loads((tmp_path / "plain" / "training.json").read_text())
    with_mined = json.loads((tmp_path / "mined-run" / "training.json").read_text())
    assert with_mined["train_crops"] == plain["train_crops"] + 7
    assert with_mined["train_person_crops"] == plain["train_person_crops"]


def test_a_teacher_scores_the_training_crops_once_and_the_report_names_it(tmp_path, yolo_split, moving_video):
    from models import SHIPPED_MODEL

    cfg = tiny_config(yolo_split, moving_video, distill={"teachers": [str(SHIPPED_MODEL)], "weight": 0.5})
    report = train(cfg, tmp_path / "a", tmp_path / "cache")
    cached = list((tmp_path / "cache").glob("teacher-*.npy"))
    assert len(cached) == 1  # scored once, kept for the next run
    assert report["teachers"] == [SHIPPED_MODEL.name]
    # crops were cut at the teacher's 64x64 input and resized to the student's 32x32
    assert TfliteClassifier(tmp_path / "a" / "person_detector.tflite").input_size == 32
    assert list((tmp_path / "cache").glob("train-*.npz"))
    assert 0 <= report["screen_threshold"] <= 1
    train(cfg, tmp_path / "b", tmp_path / "cache")
    assert list((tmp_path / "cache").glob("teacher-*.npy")) == cached


def test_the_cascade_threshold_is_calibrated_on_the_models_own_validation_data(tmp_path, yolo_split, moving_video):
    from models import SHIPPED_MODEL
    from models.calibrate import calibrate_cascade
    from models.inference.model_info import cascade_threshold_of

    train(tiny_config(yolo_split, moving_video), tmp_path / "m", tmp_path / "cache")
    model = tmp_path / "m" / "person_detector.tflite"
    assert cascade_threshold_of(model, SHIPPED_MODEL) is None
    entry = calibrate_cascade(model, SHIPPED_MODEL, tmp_path / "cache")
    assert entry["confirm_model"] == SHIPPED_MODEL.name and 0 <= entry["val_false_positive_rate"] <= 0.02 + 1e-9
    assert cascade_threshold_of(model, SHIPPED_MODEL) == entry["confirm_threshold"]
    assert cascade_threshold_of(model, tmp_path / "other.tflite") is None

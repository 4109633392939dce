"""Site adaptation lowers false alarms on the site's own person-free footage."""
import json

from models import SHIPPED_MODEL
from models.adapt import calibrate_threshold, site_crops, split_in_time
from smartcam.cli import main


def test_threshold_calibration_never_lowers_the_threshold(moving_video):
    crops = site_crops(moving_video, 64)
    fit, held = split_in_time(crops)
    assert len(fit) > len(held) > 0
    report = calibrate_threshold(SHIPPED_MODEL, 0.5, fit, held, target_fpr=0.0)
    assert report["threshold"] >= 0.5
    assert report["site_fpr_after"] <= report["site_fpr_before"]


def test_a_zero_target_passes_no_calibration_crop(moving_video):
    from models.inference import TfliteClassifier

    fit, held = split_in_time(site_crops(moving_video, 64))
    report = calibrate_threshold(SHIPPED_MODEL, 0.0, fit, held, target_fpr=0.0)
    assert (TfliteClassifier(SHIPPED_MODEL).predict(fit.images) >= report["threshold"]).sum() == 0


def test_adapt_command_writes_site_json(tmp_path, moving_video):
    assert main(["model", "adapt", "--footage", str(moving_video), "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "site.json").read_text())
    assert doc["model_file"] == "person_detector.tflite" and doc["site_crops"] > 0


def test_adapt_rejects_footage_it_cannot_read(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hi")
    assert main(["model", "adapt", "--footage", str(bad), "--out", str(tmp_path)]) == 1


def test_the_nodes_own_crops_can_adapt_a_site(tmp_path, moving_video):
    dump = tmp_path / "crops"
    assert main(["node", "simulate", "--source", str(moving_video), "--out", str(tmp_path / "sim"), "--dump-crops", str(dump), "--no-progress"]) == 0
    written = len((dump / "labels.csv").read_text().splitlines()) - 1
    assert len(site_crops(dump, 64)) == written
    assert main(["model", "adapt", "--footage", str(dump), "--out", str(tmp_path / "site")]) == 0
    assert json.loads((tmp_path / "site" / "site.json").read_text())["site_crops"] > 0


def test_crops_labelled_person_are_not_site_footage(tmp_path):
    import cv2
    import numpy as np

    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((64, 64), np.uint8))
    (tmp_path / "labels.csv").write_text("image,label\na.png,1\n")
    assert main(["model", "adapt", "--footage", str(tmp_path), "--out", str(tmp_path / "site")]) == 1

"""`smartcam model ...`: help everywhere, clear errors, non-zero exit on failure."""
import csv
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from models import SHIPPED_MODEL
from smartcam.cli import main
from tests.conftest import person_scene


@pytest.mark.parametrize("argv", [[], ["model"], ["model", "train"], ["model", "evaluate"], ["model", "predict"], ["model", "export"], ["model", "adapt"], ["model", "calibrate-cascade"]])
def test_every_command_has_help(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0 and "usage:" in capsys.readouterr().out


def test_python_dash_m_models_works():
    out = subprocess.run([sys.executable, "-m", "models", "--help"], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and "predict" in out.stdout


def test_predict_scores_every_image_and_flags_corrupt_ones(tmp_path, capsys):
    rng = np.random.default_rng(0)
    images = tmp_path / "imgs"
    images.mkdir()
    frame, boxes = person_scene(rng, people=1)
    x, y, w, h = boxes[0]
    cv2.imwrite(str(images / "person.png"), frame[y : y + h, max(0, x - w) : x + 2 * w])
    cv2.imwrite(str(images / "wall.jpg"), np.full((300, 500), 120, np.uint8))
    (images / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    out = tmp_path / "scores.csv"
    code = main(["model", "predict", "--images", str(images), "--out", str(out)])
    rows = list(csv.DictReader(out.open()))
    assert code == 1  # one image could not be read
    assert [r["image"] for r in rows] == ["person.png", "wall.jpg"]
    assert all(0.0 <= float(r["score"]) <= 1.0 for r in rows)
    assert "broken.jpg" in capsys.readouterr().err


def test_predict_on_a_missing_folder_fails(tmp_path, capsys):
    assert main(["model", "predict", "--images", str(tmp_path / "nope")]) == 1
    assert "must be a folder" in capsys.readouterr().err


def test_train_with_a_broken_config_fails_clearly(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    assert main(["model", "train", "--config", str(bad), "--out", str(tmp_path / "o")]) == 1
    assert "bad.yaml" in capsys.readouterr().err


def test_evaluate_without_data_says_what_is_missing(tmp_path, capsys):
    assert main(["model", "evaluate", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "e")]) == 1
    assert "capston2-test data not found" in capsys.readouterr().err


def test_evaluate_on_a_labelled_crop_folder_without_peers(tmp_path):
    rng = np.random.default_rng(1)
    crops = tmp_path / "crops"
    crops.mkdir()
    rows = ["image,label"]
    for i in range(6):
        frame, ((x, y, w, h),) = person_scene(rng, people=1)
        cv2.imwrite(str(crops / f"p{i}.png"), frame[y : y + h, max(0, x - w // 2) : x + w + w // 2])
        cv2.imwrite(str(crops / f"n{i}.png"), frame[:60, :60] if y > 60 else frame[-60:, -60:])
        rows += [f"p{i}.png,1", f"n{i}.png,0"]
    (crops / "labels.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "eval"
    code = main(["model", "evaluate", "--sources", "--crops", str(crops), "--no-peers", "--out", str(out)])
    assert code == 0
    report = json.loads((out / "evaluation.json").read_text())
    assert report["sets"]["crops"]["regions"] == 12
    assert (out / "roc_crops.png").stat().st_size > 1000 and "ROC-AUC" in (out / "evaluation.md").read_text()


def test_export_writes_the_bundle(tmp_path):
    assert main(["model", "export", "--model", str(SHIPPED_MODEL), "--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} >= {"person_detector.tflite", "person_detector_model_data.cc", "person_detector_model_data.h", "model_card.json", "MODEL_CARD.md"}


def test_predict_on_the_nodes_own_crops_gives_the_nodes_scores(tmp_path, moving_video):
    from camera_node.config import NodeConfig
    from camera_node.simulate import simulate

    simulate(NodeConfig(), str(moving_video), tmp_path / "node", progress=False, dump_crops=tmp_path / "crops")
    with (tmp_path / "crops" / "labels.csv").open() as f:
        node = {r["image"]: float(r["score"]) for r in csv.DictReader(f)}
    assert node
    out = tmp_path / "scores.csv"
    assert main(["model", "predict", "--images", str(tmp_path / "crops"), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert {r["image"] for r in rows} == set(node)
    for r in rows:
        assert abs(float(r["score"]) - node[r["image"]]) <= 5e-5 + 1e-7  # the node writes 4 decimals
        assert r["fit"] == "square: as is"


def test_predict_says_how_it_fits_a_non_square_image(tmp_path, capsys):
    images = tmp_path / "imgs"
    images.mkdir()
    cv2.imwrite(str(images / "tall.png"), np.random.default_rng(0).integers(0, 255, (120, 50), dtype=np.uint8))
    assert main(["model", "predict", "--images", str(images), "--out", str(tmp_path / "s.csv")]) == 0
    assert "padded to square by repeating its edge pixels" in capsys.readouterr().out
    assert next(csv.DictReader((tmp_path / "s.csv").open()))["fit"].startswith("not square: padded to 120x120")

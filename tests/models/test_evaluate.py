"""Cross-source evaluation: held-out models, negatives-only sources, the cascade's single score."""
import json
import shutil

import numpy as np

from models import SHIPPED_MODEL
from models.data.mot import iter_video_gray
from models.data.regions import build_region_set, moving_region_set
from models.data.types import LabelledFrame
from models.evaluate import EvalSet, evaluate
from models.inference.cascade import cascade_scores, decision_threshold
from models.inference.preprocess import Box
from tests.conftest import person_scene


def test_the_cascade_ranks_what_the_screen_passed_by_the_mean_of_both_scores():
    screen = np.array([0.95, 0.95, 0.6, 0.2])
    confirm = np.array([0.1, 0.9, 0.99, 0.0])
    combined = cascade_scores(screen, 0.5, confirm)
    assert list(np.argsort(-combined)) == [1, 2, 0, 3]
    # combined >= decision_threshold(t)  <=>  screen passed and mean(screen, confirm) >= t
    assert list(combined >= decision_threshold(0.6)) == [False, True, True, False]


def _regions():
    rng = np.random.default_rng(0)
    frames = []
    for i in range(4):
        image, boxes = person_scene(rng, people=2)
        frames.append(LabelledFrame(f"f{i}", image, [Box(*b) for b in boxes], "g"))
    return build_region_set(frames, negatives_per_frame=3, min_height=16, hard=True)


def _fold(tmp_path, name, sources, screen=0.2):
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(SHIPPED_MODEL, folder / "person_detector.tflite")
    report = {"model_file": "person_detector.tflite", "sources": sources, "threshold": 0.9, "screen_threshold": screen}
    (folder / "training.json").write_text(json.dumps(report))
    return folder / "person_detector.tflite"


def test_each_set_is_scored_by_its_held_out_model_with_that_models_threshold(tmp_path, moving_video):
    full = _fold(tmp_path, "full", ["capston2-test", "distractors"])
    fold = _fold(tmp_path, "fold", ["capston2-test"])
    sets = {
        "people": EvalSet(_regions(), "capston2-test"),
        "cars": EvalSet(moving_region_set(iter_video_gray(moving_video), "cars"), "distractors"),
    }
    report = evaluate([full, fold], sets, [], tmp_path / "out", confirm=SHIPPED_MODEL)
    people, cars = report["sets"]["people"], report["sets"]["cars"]
    ours = people["results"][0]
    assert ours["model"] == str(full) and ours["held_out"] is False and ours["threshold"] == 0.9
    assert cars["results"][0]["model"] == str(fold) and cars["results"][0]["held_out"] is True
    assert cars["results"][0]["auc"] is None and 0 <= cars["results"][0]["false_positive_rate"] <= 1
    assert "roc_plot" in people and "roc_plot" not in cars
    cascade = people["cascade"]
    assert 0 < cascade["confirmed_share"] <= 1 and cascade["auc"] is not None
    assert cascade["cost"]["flash_bytes"] == 2 * ours["cost"]["flash_bytes"]
    table = (tmp_path / "out" / "evaluation.md").read_text()
    assert "TRAINED ON IT" in table and "held out" in table and "cascade" in table


def test_scores_are_kept_by_model_and_crops(tmp_path):
    from models.evaluate import ScoreCache
    from models.inference import TfliteClassifier

    cache, clf = ScoreCache(tmp_path), TfliteClassifier(SHIPPED_MODEL, "litert")
    crops = np.random.default_rng(0).integers(0, 256, (5, 64, 64), dtype=np.uint8)
    first = cache.predict(clf, crops)
    np.testing.assert_array_equal(first, clf.predict(crops))
    (stored,) = tmp_path.glob("scores-*.npy")
    np.save(stored, np.zeros(5, np.float32))
    assert not cache.predict(clf, crops).any()  # read back, not scored again
    cache.predict(clf, crops[::-1].copy())
    assert len(list(tmp_path.glob("scores-*.npy"))) == 2  # other crops, other entry

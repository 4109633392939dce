"""The cascade's confirmation threshold, picked on the screening model's own validation data.

``smartcam model calibrate-cascade --model M --confirm C`` cuts M's
validation crops again (its recorded training config), scores them as the
node's cascade does and records in M's ``training.json`` the confirmation
threshold at which the cascade keeps M's false-positive rate target there.
No evaluated source is involved, so the threshold may be used in the
cross-source table.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from models.config import TrainConfig
from models.dataset import cached_crops
from models.distill import resize_crops
from models.inference import Backend, TfliteClassifier
from models.inference.cascade import cascade_scores
from models.inference.model_info import TRAINING_FILE, screen_threshold_of
from models.metrics import operating_point, threshold_at_fpr

logger = logging.getLogger(__name__)


def calibrate_cascade(model: Path, confirm: Path, cache_dir: Path) -> dict:
    """Record ``cascade`` (confirmation model, threshold, validation figures) in the model's training report."""
    report_path = Path(model).parent / TRAINING_FILE
    if not report_path.exists():
        raise ValueError(f"{report_path} not found: calibration needs the model's training report")
    report = json.loads(report_path.read_text())
    cfg = TrainConfig.model_validate(report["config"])
    screen_threshold = screen_threshold_of(model)
    if screen_threshold is None:
        raise ValueError(f"{model}: no screen_threshold recorded; train it again")
    screen, second = TfliteClassifier(model, Backend.LITERT), TfliteClassifier(confirm, Backend.LITERT)
    cut = max(screen.input_size, second.input_size)
    val = cached_crops(cache_dir, cfg.validation.resolved(cfg.data_root), cut, cfg.sampling, cfg.seed + 1, False, "valid")
    first = screen.predict(resize_crops(val.images, screen.input_size))
    passed = first >= screen_threshold
    confirm_scores = np.zeros(len(val), np.float32)
    if passed.any():
        confirm_scores[passed] = second.predict(resize_crops(val.images[passed], second.input_size))
    combined = cascade_scores(first, screen_threshold, confirm_scores)
    decision = max(threshold_at_fpr(val.labels, combined, cfg.target_fpr), 0.5)  # a crop the screen stopped never counts
    op = operating_point(val.labels, combined, decision)
    entry = {
        "confirm_model": Path(confirm).name,
        "confirm_threshold": 2 * decision - 1,  # inverse of cascade.decision_threshold
        "target_fpr": cfg.target_fpr,
        "val_recall": op.recall,
        "val_false_positive_rate": op.false_positive_rate,
        "val_confirmed_share": float(passed.mean()),
    }
    report["cascade"] = entry
    report_path.write_text(json.dumps(report, indent=2))
    logger.info("cascade %s -> %s: confirm at mean >= %.3f (validation recall %.3f, FPR %.3f)", Path(model).name,
                entry["confirm_model"], entry["confirm_threshold"], op.recall, op.false_positive_rate)
    return entry

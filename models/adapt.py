"""Site adaptation: fewer false alarms on one camera's scene.

Person-free footage of the site (a video or a folder of frames) is cut the
way the node cuts it — moving regions plus random squares — and scored.

* ``threshold`` (no TensorFlow): raise the operating threshold until at most
  ``target_fpr`` of the site's person-free crops pass; writes ``site.json``
  for the node config.
* ``finetune`` (TensorFlow): continue training the shipped float model on its
  training crops plus the site crops (oversampled), re-quantise, and report
  the site false-positive rate and validation AUC before and after.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from models.data.crops import CropSet, classified_crops, moving_region_crops
from models.data.labelled_folder import iter_labelled_folder
from models.data.mot import VIDEO_SUFFIXES, iter_video_gray
from models.data.types import list_images, read_gray
from models.inference import Backend, TfliteClassifier

logger = logging.getLogger(__name__)


def site_crops(footage: Path, size: int, seed: int = 0, step: int = 1) -> CropSet:
    """Person-free crops from a video file, a folder of frames (in name order), or the node's own
    crops (a folder with ``labels.csv`` written by ``smartcam node simulate --dump-crops``)."""
    footage = Path(footage)
    rng = np.random.default_rng(seed)
    if footage.is_dir() and (footage / "labels.csv").exists():
        crops = classified_crops(iter_labelled_folder(footage), size)
        if crops.labels.any():
            raise ValueError(f"{footage}: site crops must be person-free, {int(crops.labels.sum())} are labelled person")
        if not len(crops):
            raise ValueError(f"{footage}: no crops in labels.csv")
        return crops
    if footage.is_dir():
        frames = ((i, read_gray(p)) for i, p in enumerate(list_images(footage)) if i % step == 0)
    elif footage.suffix.lower() in VIDEO_SUFFIXES:
        frames = iter_video_gray(footage, step)
    else:
        raise ValueError(f"{footage}: expected a video file or a folder of frames")
    crops = moving_region_crops(frames, size, rng, group=footage.stem, per_frame=3, random_per_frame=2)
    if not len(crops):
        raise ValueError(f"{footage}: no crops (need at least a few frames)")
    return crops


def site_fpr(model: Path | bytes, threshold: float, crops: CropSet) -> float:
    """Fraction of person-free site crops the int8 model (TFLM) calls a person."""
    return float((TfliteClassifier(model, Backend.TFLM).predict(crops.images) >= threshold).mean())


def split_in_time(crops: CropSet, fraction: float = 0.7) -> tuple[CropSet, CropSet]:
    """The first ``fraction`` of the (time-ordered) crops to adapt on, the rest held out to measure."""
    cut = round(len(crops) * fraction)
    return crops.subset(np.arange(cut)), crops.subset(np.arange(cut, len(crops)))


def calibrate_threshold(model: Path, base_threshold: float, crops: CropSet, held_out: CropSet, target_fpr: float) -> dict:
    """The lowest threshold >= ``base_threshold`` passing at most ``target_fpr`` of the site crops.

    Before/after false-positive rates are measured on ``held_out`` (later footage).
    """
    clf = TfliteClassifier(model, Backend.TFLM)
    scores = clf.predict(crops.images)
    held = clf.predict(held_out.images) if len(held_out) else scores
    ordered = np.sort(scores)
    allowed = int(np.floor(target_fpr * len(ordered)))
    site_threshold = float(ordered[len(ordered) - allowed - 1]) + 1.0 / 256 if allowed < len(ordered) else 0.0
    threshold = min(1.0, max(base_threshold, site_threshold))
    return {
        "model_file": Path(model).name,
        "threshold": threshold,
        "base_threshold": base_threshold,
        "site_crops": len(crops),
        "held_out_crops": len(held_out),
        "site_fpr_before": float((held >= base_threshold).mean()),
        "site_fpr_after": float((held >= threshold).mean()),
        "target_fpr": target_fpr,
    }


def finetune(
    float_model: Path,
    train_config: Path,
    crops: CropSet,
    held_out: CropSet,
    out_dir: Path,
    cache_dir: Path,
    epochs: int = 3,
    learning_rate: float = 3e-4,
) -> dict:
    """Fine-tune on training crops + site negatives, re-quantise, write the adapted model."""
    import keras

    from models.augment import augment_batch
    from models.config import load_train_config
    from models.dataset import cached_crops
    from models.metrics import roc_auc, threshold_at_fpr
    from models.quantize import quantize_int8

    cfg = load_train_config(train_config)
    keras.utils.set_random_seed(cfg.seed)
    size = cfg.architecture.input_size
    base = cached_crops(cache_dir, cfg.train.resolved(cfg.data_root), size, cfg.sampling, cfg.seed, True, "train")
    val = cached_crops(cache_dir, cfg.validation.resolved(cfg.data_root), size, cfg.sampling, cfg.seed + 1, False, "valid")
    model = keras.models.load_model(float_model)
    to_x = lambda imgs: (imgs.astype(np.float32) / 255.0)[..., None]
    before_val = roc_auc(val.labels, model.predict(to_x(val.images), batch_size=512, verbose=0)[:, 0])
    repeat = max(1, int(0.25 * len(base) / max(len(crops), 1)))
    mixed = CropSet.concat([base] + [crops] * repeat)
    rng = np.random.default_rng(cfg.seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy")
    for _ in range(epochs):
        order = rng.permutation(len(mixed))
        model.fit(to_x(augment_batch(mixed.images[order], rng, cfg.augment)), mixed.labels[order], batch_size=cfg.batch_size, epochs=1, verbose=0)
    flatbuffer = quantize_int8(model, base.images[rng.choice(len(base), cfg.representative_samples, replace=False)])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "person_detector.tflite").write_bytes(flatbuffer)
    model.save(out_dir / "float_model.keras")
    clf = TfliteClassifier(flatbuffer, Backend.TFLM)
    val_scores = clf.predict(val.images)
    threshold = threshold_at_fpr(val.labels, val_scores, cfg.target_fpr)
    report = {
        "model_file": "person_detector.tflite",
        "threshold": threshold,
        "val_auc_before": before_val,
        "val_auc_after": roc_auc(val.labels, val_scores),
        "site_crops": len(crops),
        "held_out_crops": len(held_out),
        "site_fpr_after": site_fpr(flatbuffer, threshold, held_out),
    }
    (out_dir / "site.json").write_text(json.dumps(report, indent=2))
    return report

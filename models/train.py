"""Train the person-crop CNN, pick the best epoch on validation, quantise to int8.

Writes to the output folder: ``person_detector.tflite`` (int8),
``float_model.keras`` and ``training.json`` (history, float vs int8 AUC,
operating threshold, the config used).
"""
from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from models.augment import augment_batch
from models.config import TrainConfig
from models.data.crops import CropSet
from models.data.sources import sources_touched
from models.dataset import cached_crops
from models.distill import input_size, resize_crops, soft_targets, teacher_scores
from models.inference import Backend, TfliteClassifier
from models.metrics import roc_auc, threshold_at_fpr, threshold_at_recall
from models.quantize import quantize_int8

logger = logging.getLogger(__name__)

MODEL_FILE = "person_detector.tflite"
REPORT_FILE = "training.json"


def _inputs(images: np.ndarray) -> np.ndarray:
    return (images.astype(np.float32) / 255.0)[..., None]


def train(cfg: TrainConfig, out_dir: Path, cache_dir: Path) -> dict:
    """Run the whole recipe; return the training report (also saved as JSON)."""
    import keras
    import tensorflow as tf

    started = time.time()
    keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    size = cfg.architecture.input_size
    teachers = cfg.distill.resolved(cfg.data_root)
    # With teachers, crops are cut at the largest input (a teacher sees the same region, not an upscaled crop).
    cut = max([size, *(input_size(t) for t in teachers)])
    train_set = cached_crops(cache_dir, cfg.train.resolved(cfg.data_root), cut, cfg.sampling, cfg.seed, True, "train")
    targets = train_set.labels.astype(np.float32)
    if teachers:
        teacher = teacher_scores(train_set, teachers, cache_dir)
        targets = soft_targets(train_set.labels, teacher, cfg.distill.weight, cfg.distill.positive_weight)
        train_set.images = resize_crops(train_set.images, size)
        logger.info("teachers agree with the labels on %.1f%% of crops", 100 * np.mean((teacher >= 0.5) == (train_set.labels == 1)))
    val_set = cached_crops(cache_dir, cfg.validation.resolved(cfg.data_root), size, cfg.sampling, cfg.seed + 1, False, "valid")

    steps_per_epoch = math.ceil(len(train_set) / cfg.batch_size)
    epochs = cfg.epochs
    if cfg.max_steps:
        epochs = min(epochs, math.ceil(cfg.max_steps / steps_per_epoch))
        steps_per_epoch = min(steps_per_epoch, cfg.max_steps)
    total_steps = max(1, epochs * steps_per_epoch)

    model = _compile(cfg, total_steps)
    pos = float(train_set.labels.mean())
    # Classes weigh the same (by the hard label: soft targets would round to a class).
    sample_weight = np.where(train_set.labels == 1, 0.5 / pos, 0.5 / (1 - pos)).astype(np.float32)
    rng = np.random.default_rng(cfg.seed)
    x_val = _inputs(val_set.images)
    history, best = [], (-1.0, None, -1)
    for epoch in tqdm(range(epochs), desc="train", unit="epoch"):
        order = rng.permutation(len(train_set))[: steps_per_epoch * cfg.batch_size]
        x = _inputs(augment_batch(train_set.images[order], rng, cfg.augment))
        fit = model.fit(x, targets[order], batch_size=cfg.batch_size, epochs=1, verbose=0, sample_weight=sample_weight[order], shuffle=False)
        val_auc = roc_auc(val_set.labels, model.predict(x_val, batch_size=512, verbose=0)[:, 0])
        history.append({"epoch": epoch + 1, "loss": float(fit.history["loss"][-1]), "val_auc": val_auc})
        logger.info("epoch %d loss %.4f val AUC %.4f", epoch + 1, history[-1]["loss"], val_auc)
        if val_auc > best[0]:
            best = (val_auc, model.get_weights(), epoch + 1)
    model.set_weights(best[1])
    model.save(out_dir / "float_model.keras")

    report = _quantise_and_check(cfg, model, train_set, val_set, out_dir)
    report.update(
        best_epoch=best[2],
        history=history,
        train_crops=len(train_set),
        train_person_crops=int(train_set.labels.sum()),
        val_crops=len(val_set),
        seconds=round(time.time() - started, 1),
        sources=sources_touched([cfg.train, cfg.validation], cfg.data_root),
        teachers=[t.name for t in teachers],
        config=json.loads(cfg.model_dump_json()),
    )
    (out_dir / REPORT_FILE).write_text(json.dumps(report, indent=2))
    return report


def _compile(cfg: TrainConfig, total_steps: int):
    import keras

    from models.architecture import build_model

    model = build_model(cfg.architecture)
    schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=total_steps, alpha=0.02)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="binary_crossentropy")
    return model


def _quantise_and_check(cfg: TrainConfig, model, train_set: CropSet, val_set: CropSet, out_dir: Path) -> dict:
    """Quantise, then compare int8 (real TFLM interpreter) with float on validation."""
    rng = np.random.default_rng(cfg.seed + 2)
    rep = train_set.images[rng.choice(len(train_set), min(cfg.representative_samples, len(train_set)), replace=False)]
    flatbuffer = quantize_int8(model, rep)
    (out_dir / MODEL_FILE).write_bytes(flatbuffer)
    float_scores = model.predict(_inputs(val_set.images), batch_size=512, verbose=0)[:, 0]
    int8_scores = TfliteClassifier(flatbuffer, Backend.TFLM).predict(val_set.images)
    float_auc, int8_auc = roc_auc(val_set.labels, float_scores), roc_auc(val_set.labels, int8_scores)
    if float_auc - int8_auc > 0.01:
        logger.warning("int8 loses %.3f AUC against float (> 1 point)", float_auc - int8_auc)
    negatives = val_set.labels == 0
    return {
        "model_file": MODEL_FILE,
        "input_size": cfg.architecture.input_size,
        "val_auc_float": float_auc,
        "val_auc_int8": int8_auc,
        "max_abs_score_diff": float(np.max(np.abs(float_scores - int8_scores))),
        "threshold": threshold_at_fpr(val_set.labels, int8_scores, cfg.target_fpr),
        "threshold_target_fpr": cfg.target_fpr,
        "screen_threshold": threshold_at_recall(val_set.labels, int8_scores, cfg.screen_recall),
        "screen_recall": cfg.screen_recall,
        "val_negatives": int(negatives.sum()),
    }

"""Soft targets for distillation: teacher models score every training crop once, cached on disk.

A teacher is any person classifier .tflite (the Apache-2.0 MLPerf Tiny VWW
model above all): it runs in LiteRT at its own input size on the same crop
the student sees, cut at the larger of the two sizes and resized down.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from models.data.crops import CropSet
from models.inference import Backend, TfliteClassifier

logger = logging.getLogger(__name__)

#: Crops a teacher scores per LiteRT call.
TEACHER_BATCH = 256


def resize_crops(images: np.ndarray, size: int) -> np.ndarray:
    """Square uint8 crops ``(N, S, S)`` resized to ``size`` (area filter when shrinking)."""
    if images.shape[1] == size:
        return images
    interp = cv2.INTER_AREA if images.shape[1] > size else cv2.INTER_LINEAR
    out = np.empty((len(images), size, size), np.uint8)
    for i, image in enumerate(images):
        out[i] = cv2.resize(image, (size, size), interpolation=interp)
    return out


def input_size(model: Path) -> int:
    """A model's square input side."""
    return TfliteClassifier(model, Backend.LITERT).input_size


def _digest(data: bytes | np.ndarray) -> str:
    return hashlib.blake2b(memoryview(np.ascontiguousarray(data)).cast("B"), digest_size=8).hexdigest()


def teacher_scores(crops: CropSet, teachers: list[Path], cache_dir: Path) -> np.ndarray:
    """Mean person score of ``teachers`` on every crop; each teacher's scores cached by content."""
    if not teachers:
        raise ValueError("no teacher models given")
    crops_key = _digest(crops.images)
    per_teacher = []
    for path in teachers:
        model = Path(path).read_bytes()
        cache = Path(cache_dir) / f"teacher-{Path(path).stem}-{_digest(model)}-{crops_key}.npy"
        if cache.exists():
            logger.info("teacher %s: cached %s", Path(path).name, cache)
            per_teacher.append(np.load(cache))
            continue
        clf = TfliteClassifier(model, Backend.LITERT)
        scores = np.empty(len(crops), np.float32)
        for start in tqdm(range(0, len(crops), TEACHER_BATCH), desc=f"teacher {Path(path).stem}", unit="batch"):
            batch = resize_crops(crops.images[start : start + TEACHER_BATCH], clf.input_size)
            scores[start : start + len(batch)] = clf.predict(batch, batch_size=TEACHER_BATCH)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, scores)
        per_teacher.append(scores)
    return np.mean(per_teacher, axis=0).astype(np.float32)


def soft_targets(labels: np.ndarray, teacher: np.ndarray, weight: float, positive_weight: float) -> np.ndarray:
    """Hard labels mixed with the teachers' scores: ``weight`` on negatives, ``positive_weight`` on persons."""
    w = np.where(labels == 1, positive_weight, weight).astype(np.float32)
    return ((1.0 - w) * labels.astype(np.float32) + w * teacher).astype(np.float32)

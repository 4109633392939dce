"""Turn labelled frames into square person / not-person crops.

Positives are person boxes cut with context (optionally jittered in scale,
aspect and position, or cut partially, as the node's motion boxes are never
exact). Negatives are squares that touch no person box, plus the moving
regions of person-free videos — the hard negatives the node actually sees.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from models.data.types import ClassifiedImage, LabelledFrame
from models.inference.preprocess import DEFAULT_CONTEXT, Box, CropFit, crop_region, square_side, whole_image_box

logger = logging.getLogger(__name__)


@dataclass
class CropSet:
    """Square uint8 crops with labels and, for positives, the source box height."""

    images: np.ndarray  # (N, S, S) uint8
    labels: np.ndarray  # (N,) uint8, 1 = person
    heights: np.ndarray  # (N,) float32 source box height in px, 0 for negatives
    groups: np.ndarray  # (N,) str, scene / sequence of the source frame

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def empty(cls, size: int) -> CropSet:
        return cls(np.zeros((0, size, size), np.uint8), np.zeros(0, np.uint8), np.zeros(0, np.float32), np.zeros(0, str))

    @classmethod
    def concat(cls, parts: Iterable[CropSet]) -> CropSet:
        parts = [p for p in parts if len(p)]
        if not parts:
            raise ValueError("no crops to concatenate")
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("images", "labels", "heights", "groups")))

    def subset(self, index: np.ndarray) -> CropSet:
        return CropSet(self.images[index], self.labels[index], self.heights[index], self.groups[index])

    def save(self, path: Path) -> None:
        np.savez_compressed(path, images=self.images, labels=self.labels, heights=self.heights, groups=self.groups)

    @classmethod
    def load(cls, path: Path) -> CropSet:
        with np.load(path) as z:
            return cls(z["images"], z["labels"], z["heights"], z["groups"])


@dataclass(frozen=True)
class Jitter:
    """Geometric jitter of positive boxes (what an imperfect motion box looks like)."""

    context: tuple[float, float] = (1.1, 1.6)
    shift: float = 0.12  # of the square side
    aspect: float = 1.25  # width scaled by a factor in [1/aspect, aspect]
    partial_prob: float = 0.15  # chance to keep only the upper or lower 55-80% of the box


def jitter_box(box: Box, rng: np.random.Generator, jitter: Jitter, frame_size: tuple[int, int] | None = None) -> tuple[Box, float]:
    """A randomly perturbed copy of ``box`` and the context to cut it with; a thin box at the border
    of a frame of ``frame_size`` (width, height) shifted out of it is brought back (centre inside)."""
    w = box.w * float(np.exp(rng.uniform(-1, 1) * np.log(jitter.aspect)))
    x, y, h = box.cx - w / 2, box.y, box.h
    if rng.random() < jitter.partial_prob:
        keep = rng.uniform(0.55, 0.8)
        if rng.random() < 0.5:
            y += h * (1 - keep)
        h *= keep
    side = max(w, h)
    x += rng.uniform(-1, 1) * jitter.shift * side
    y += rng.uniform(-1, 1) * jitter.shift * side
    if frame_size is not None and not Box(x, y, w, h).intersects(Box(0, 0, *frame_size)):
        x = float(np.clip(x + w / 2, 0, frame_size[0] - 1)) - w / 2
        y = float(np.clip(y + h / 2, 0, frame_size[1] - 1)) - h / 2
    return Box(x, y, w, h), float(rng.uniform(*jitter.context))


def _usable(box: Box, frame: np.ndarray, min_height: float) -> bool:
    """Big enough, and mostly inside the frame."""
    h, w = frame.shape[:2]
    inside = box.intersection_area(Box(0, 0, w, h)) / max(box.area, 1e-6)
    return box.h >= min_height and inside >= 0.6


def positive_crops(
    frame: LabelledFrame,
    size: int,
    rng: np.random.Generator | None = None,
    variants: int = 1,
    jitter: Jitter | None = None,
    min_height: float = 16.0,
) -> CropSet:
    """Crops of every usable person box: exact (``jitter=None``) or ``variants`` jittered copies each."""
    crops, heights = [], []
    size_wh = (frame.image.shape[1], frame.image.shape[0])
    for box in frame.boxes:
        if not _usable(box, frame.image, min_height):
            continue
        for _ in range(variants if jitter else 1):
            b, context = jitter_box(box, rng, jitter, size_wh) if jitter else (box, DEFAULT_CONTEXT)
            crops.append(crop_region(frame.image, b, size, context))
            heights.append(box.h)
    return _make(crops, 1, heights, frame.group, size)


def negative_boxes(
    frame: LabelledFrame,
    rng: np.random.Generator,
    count: int,
    min_side: float = 24.0,
    margin: float = 2.0,
    attempts: int = 40,
) -> list[Box]:
    """Up to ``count`` random squares (log-uniform side) that touch no person box."""
    h, w = frame.image.shape[:2]
    max_side = min(h, w)
    if max_side < min_side:
        return []
    found: list[Box] = []
    for _ in range(attempts * count):
        if len(found) >= count:
            break
        side = float(np.exp(rng.uniform(np.log(min_side), np.log(max_side))))
        cand = Box(rng.uniform(0, w - side), rng.uniform(0, h - side), side, side)
        if not any(cand.intersects(b, margin) for b in frame.boxes):
            found.append(cand)
    return found


def edge_density(gray: np.ndarray, box: Box) -> float:
    """Mean gradient magnitude inside ``box``: how much structure (object-likeness) a region has."""
    x0, y0 = max(0, int(box.x)), max(0, int(box.y))
    patch = gray[y0 : int(box.y + box.h), x0 : int(box.x + box.w)].astype(np.float32)
    if patch.size < 4:
        return 0.0
    return float(np.abs(np.diff(patch, axis=0)).mean() + np.abs(np.diff(patch, axis=1)).mean())


def hard_negative_boxes(
    frame: LabelledFrame,
    rng: np.random.Generator,
    count: int,
    min_side: float = 24.0,
    pool: int = 6,
) -> list[Box]:
    """``count`` box-free squares that look like objects, not bare floor.

    Candidates are sized like the frame's own person crops (the node's
    square, 1.25 x max(w, h)) where it has people, else log-uniform; of
    ``pool`` candidates per wanted square the most textured are kept.
    """
    candidates = negative_boxes(frame, rng, count * pool, min_side)
    sides = [side for side in (square_side(b) for b in frame.boxes) if side >= min_side]
    h, w = frame.image.shape[:2]
    for side in rng.choice(sides, count * pool) if sides else []:
        side = min(float(side), float(min(h, w)))
        box = Box(rng.uniform(0, w - side), rng.uniform(0, h - side), side, side)
        if not any(box.intersects(b, 2.0) for b in frame.boxes):
            candidates.append(box)
    ranked = sorted(candidates, key=lambda b: -edge_density(frame.image, b))
    return ranked[:count]


def negative_crops(frame: LabelledFrame, size: int, rng: np.random.Generator, count: int, min_side: float = 24.0) -> CropSet:
    """Person-free square crops cut from box-free regions of ``frame``."""
    crops = [crop_region(frame.image, b, size, context=1.0) for b in negative_boxes(frame, rng, count, min_side)]
    return _make(crops, 0, [0.0] * len(crops), frame.group, size)


def motion_boxes(prev: np.ndarray, cur: np.ndarray, min_area: int = 64, max_boxes: int = 8) -> list[Box]:
    """Bounding boxes of what moved between two grayscale frames (largest first)."""
    diff = cv2.absdiff(cv2.GaussianBlur(prev, (5, 5), 0), cv2.GaussianBlur(cur, (5, 5), 0))
    _, mask = cv2.threshold(diff, 20, 255, cv2.THRESH_BINARY)
    mask = cv2.dilate(mask, np.ones((5, 5), np.uint8), iterations=2)
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    comps = sorted((s for s in stats[1:] if s[cv2.CC_STAT_AREA] >= min_area), key=lambda s: -s[cv2.CC_STAT_AREA])
    return [Box(float(s[0]), float(s[1]), float(s[2]), float(s[3])) for s in comps[:max_boxes]]


def iter_moving_boxes(
    frames: Iterator[tuple[int, np.ndarray]], gap: int = 3, per_frame: int = 3
) -> Iterator[tuple[int, np.ndarray, list[Box]]]:
    """``(index, frame, boxes)``: the largest ``per_frame`` regions that moved since ``gap`` frames ago."""
    history: list[np.ndarray] = []
    for index, gray in frames:
        history.append(gray)
        if len(history) > gap:
            yield index, gray, motion_boxes(history.pop(0), gray)[:per_frame]


def moving_region_crops(
    frames: Iterator[tuple[int, np.ndarray]],
    size: int,
    rng: np.random.Generator,
    group: str,
    gap: int = 3,
    per_frame: int = 3,
    random_per_frame: int = 1,
) -> CropSet:
    """Hard negatives from a person-free video: crops around moving blobs, plus random squares."""
    crops: list[np.ndarray] = []
    for _, gray, boxes in iter_moving_boxes(frames, gap, per_frame):
        crops += [crop_region(gray, box, size, context=float(rng.uniform(1.1, 1.6))) for box in boxes]
        empty = LabelledFrame(key="", image=gray)
        crops += [crop_region(gray, b, size, 1.0) for b in negative_boxes(empty, rng, random_per_frame)]
    return _make(crops, 0, [0.0] * len(crops), group, size)


def classified_crops(images: Iterable[ClassifiedImage], size: int) -> CropSet:
    """Whole images that are already crops (labelled folders), padded to square."""
    parts = [
        _make([crop_region(c.image, whole_image_box(c.image), size, 1.0, CropFit.SQUARE)], c.label, [0.0], c.group, size)
        for c in images
    ]
    return CropSet.concat(parts) if parts else CropSet.empty(size)


def _make(crops: list[np.ndarray], label: int, heights: list[float], group: str, size: int) -> CropSet:
    if not crops:
        return CropSet.empty(size)
    n = len(crops)
    return CropSet(
        np.stack(crops).astype(np.uint8),
        np.full(n, label, np.uint8),
        np.asarray(heights, np.float32),
        np.full(n, group),
    )

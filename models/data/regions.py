"""A labelled set of regions (frame + box) that any model can cut to its own input.

Evaluation keeps regions rather than crops so each model — ours or a peer —
gets the region at its own input size and fitted its own way.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from models.data.crops import _usable, hard_negative_boxes, iter_moving_boxes, negative_boxes
from models.data.types import LabelledFrame
from models.inference.preprocess import DEFAULT_CONTEXT, Box, CropFit, crop_region, whole_image_box


@dataclass
class RegionSet:
    """Frames plus labelled regions on them."""

    frames: list[np.ndarray] = field(default_factory=list)
    frame_of: list[int] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    #: Source box height in pixels (person size), 0 for negatives.
    heights: list[float] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.boxes)

    def add(self, frame: LabelledFrame, boxes: Iterable[Box], label: int) -> None:
        boxes = list(boxes)
        if not boxes:
            return
        if not self.frames or self.frames[-1] is not frame.image:
            self.frames.append(frame.image)
            self.keys.append(frame.key)
        for b in boxes:
            self.frame_of.append(len(self.frames) - 1)
            self.boxes.append(b)
            self.labels.append(label)
            self.heights.append(b.h if label else 0.0)

    def add_whole_image(self, key: str, image: np.ndarray, label: int) -> None:
        """An image that is itself a crop: stored so the default context cuts exactly it."""
        frame = LabelledFrame(key=key, image=image)
        self.add(frame, [_shrunk(whole_image_box(image))], label)

    @classmethod
    def concat(cls, parts: Iterable[RegionSet]) -> RegionSet:
        """One set holding every region of ``parts``."""
        out = cls()
        for part in parts:
            offset = len(out.frames)
            out.frames += part.frames
            out.keys += part.keys
            out.frame_of += [f + offset for f in part.frame_of]
            out.boxes += part.boxes
            out.labels += part.labels
            out.heights += part.heights
        return out

    def crops(self, size: int, fit: CropFit = CropFit.SQUARE, context: float = DEFAULT_CONTEXT, index: Iterable[int] | None = None) -> np.ndarray:
        """The regions (all, or those at ``index``) cut to ``size x size`` uint8 crops."""
        chosen = range(len(self)) if index is None else index
        return np.stack([crop_region(self.frames[self.frame_of[i]], self.boxes[i], size, context, fit) for i in chosen])

    @property
    def label_array(self) -> np.ndarray:
        return np.asarray(self.labels, np.uint8)

    @property
    def height_array(self) -> np.ndarray:
        return np.asarray(self.heights, np.float32)


def build_region_set(
    frames: Iterable[LabelledFrame],
    seed: int = 0,
    negatives_per_frame: int = 2,
    min_height: float = 24.0,
    desc: str = "regions",
    hard: bool = False,
) -> RegionSet:
    """Person boxes as positives; box-free squares as negatives (``hard``: the most object-like ones,
    sized like the frame's person crops, see :func:`hard_negative_boxes`).

    A negative square is stored as the box whose ``DEFAULT_CONTEXT`` crop is
    exactly that square, so every region is cut the same way.
    """
    rng = np.random.default_rng(seed)
    pick = hard_negative_boxes if hard else negative_boxes
    regions = RegionSet()
    for frame in tqdm(frames, desc=desc, unit="frame", leave=False):
        regions.add(frame, [b for b in frame.boxes if _usable(b, frame.image, min_height)], 1)
        squares = pick(frame, rng, negatives_per_frame, min_side=min_height)
        regions.add(frame, [_shrunk(s) for s in squares], 0)
    return regions


def moving_region_set(frames: Iterator[tuple[int, np.ndarray]], key: str, per_frame: int = 3, gap: int = 3) -> RegionSet:
    """Negatives only: the regions that move in a person-free video, cut as the node cuts its proposals."""
    regions = RegionSet()
    for index, gray, boxes in iter_moving_boxes(frames, gap, per_frame):
        regions.add(LabelledFrame(key=f"{key}#{index}", image=gray), boxes, 0)
    return regions


def _shrunk(region: Box) -> Box:
    """The box whose ``DEFAULT_CONTEXT`` crop is exactly ``region``."""
    w, h = region.w / DEFAULT_CONTEXT, region.h / DEFAULT_CONTEXT
    return Box(region.cx - w / 2, region.cy - h / 2, w, h)

"""Cut a region crop from a grayscale frame the way the node feeds the CNN.

The node's motion stage proposes a box; the classifier sees a square crop
centred on that box with some context around it, resized to the model's
input. Training, evaluation, ``model predict`` and the node all call
:func:`crop_region`, so the pixels a model is judged on are the pixels it
was trained on.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import cv2
import numpy as np

#: Context factor the shipped model is trained and deployed with: the square
#: side is ``max(w, h) * DEFAULT_CONTEXT``.
DEFAULT_CONTEXT = 1.25


@dataclass(frozen=True)
class Box:
    """Axis-aligned box in pixels: top-left corner, width and height."""

    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    @property
    def area(self) -> float:
        return max(self.w, 0.0) * max(self.h, 0.0)

    def intersects(self, other: Box, margin: float = 0.0) -> bool:
        """True when the boxes overlap (``margin`` pixels grow ``other``)."""
        return not (
            self.x + self.w <= other.x - margin
            or other.x + other.w + margin <= self.x
            or self.y + self.h <= other.y - margin
            or other.y + other.h + margin <= self.y
        )

    def contains(self, x: float, y: float) -> bool:
        """True when the point lies inside (edges included)."""
        return self.x <= x <= self.x + self.w and self.y <= y <= self.y + self.h

    def intersection_area(self, other: Box) -> float:
        ix = max(0.0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0.0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        return ix * iy

    def iou(self, other: Box) -> float:
        """Intersection over union (0 for two empty boxes)."""
        inter = self.intersection_area(other)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def grown(self, dx: float, dy: float) -> Box:
        """This box with ``dx`` pixels added on its left and on its right, ``dy`` on its top and on its bottom."""
        return Box(self.x - dx, self.y - dy, self.w + 2 * dx, self.h + 2 * dy)

    def shifted(self, dx: float, dy: float) -> Box:
        """This box moved ``dx`` pixels right and ``dy`` down."""
        return Box(self.x + dx, self.y + dy, self.w, self.h)

    def shifted_to_hold(self, other: Box) -> Box:
        """This box moved by the least that puts ``other`` inside it (centred on ``other`` along a side no longer
        than ``other``'s)."""
        def least(lo: float, size: float, other_lo: float, other_size: float) -> float:
            if other_size >= size:
                return other_lo + other_size / 2 - (lo + size / 2)
            return min(0.0, other_lo - lo) + max(0.0, other_lo + other_size - (lo + size))

        return self.shifted(least(self.x, self.w, other.x, other.w), least(self.y, self.h, other.y, other.h))

    def borders(self, width: float, height: float, margin: float = 0.0) -> tuple[bool, bool, bool, bool]:
        """Which borders of a ``width`` x ``height`` frame this box reaches (within ``margin`` pixels): left, top,
        right, bottom."""
        return (self.x <= margin, self.y <= margin, self.x + self.w >= width - margin,
                self.y + self.h >= height - margin)

    def union(self, other: Box) -> Box:
        """The smallest box holding both."""
        x0, y0 = min(self.x, other.x), min(self.y, other.y)
        x1, y1 = max(self.x + self.w, other.x + other.w), max(self.y + self.h, other.y + other.h)
        return Box(x0, y0, x1 - x0, y1 - y0)


class CropFit(str, Enum):
    """How a (usually tall) person box is fitted into a square model input."""

    #: Square around the box with context, kept inside the frame where it fits (else edge-replicated).
    SQUARE = "square"
    #: Box with context, stretched to the square input (aspect not kept).
    STRETCH = "stretch"
    #: Box with context, padded to square with mid-grey (letterbox).
    LETTERBOX = "letterbox"


def whole_image_box(image: np.ndarray) -> Box:
    """The box covering a whole image (for images that already are crops)."""
    h, w = image.shape[:2]
    return Box(0.0, 0.0, float(w), float(h))


def _cut(gray: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """Cut ``[y0:y1, x0:x1]``, replicating edge pixels outside the frame."""
    h, w = gray.shape[:2]
    pad_l, pad_t = max(0, -x0), max(0, -y0)
    pad_r, pad_b = max(0, x1 - w), max(0, y1 - h)
    inner = gray[max(0, y0) : min(h, y1), max(0, x0) : min(w, x1)]
    if inner.size == 0:
        raise ValueError(f"crop ({x0},{y0})-({x1},{y1}) lies outside a {w}x{h} frame")
    if pad_l or pad_t or pad_r or pad_b:
        inner = cv2.copyMakeBorder(inner, pad_t, pad_b, pad_l, pad_r, cv2.BORDER_REPLICATE)
    return inner


def _span(centre: float, length: float, limit: int) -> tuple[int, int]:
    """``[start, end)`` of ``length`` around ``centre``, shifted inside ``[0, limit)`` when it fits.

    A box at the frame border keeps its context from inside the frame rather
    than from replicated edge pixels (smeared streaks the CNN would learn as
    a cue); only a region larger than the frame is padded.
    """
    start = round(centre - length / 2)
    end = max(start + 1, round(centre + length / 2))
    if end - start <= limit:
        shift = max(0, -start) - max(0, end - limit)
        start, end = start + shift, end + shift
    return start, end


def square_side(box: Box, context: float = DEFAULT_CONTEXT) -> float:
    """Side of the square crop of ``box``: ``context`` x its longer side (before it is kept inside the frame)."""
    return max(box.w, box.h) * context


def crop_region(
    gray: np.ndarray,
    box: Box,
    size: int,
    context: float = DEFAULT_CONTEXT,
    fit: CropFit = CropFit.SQUARE,
) -> np.ndarray:
    """Return a ``size x size`` uint8 crop of ``box`` from a grayscale frame.

    ``context`` scales the region around the box centre (1.0 = the box itself).
    """
    if gray.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale frame, got shape {gray.shape}")
    if box.w <= 0 or box.h <= 0:
        raise ValueError(f"empty box {box}")
    h, w = gray.shape
    if not box.intersects(Box(0.0, 0.0, float(w), float(h))):
        raise ValueError(f"box {box} lies outside a {w}x{h} frame")
    if fit is CropFit.SQUARE:
        side = square_side(box, context)
        rw = rh = side
    else:
        rw, rh = box.w * context, box.h * context
    x0, x1 = _span(box.cx, rw, gray.shape[1])
    y0, y1 = _span(box.cy, rh, gray.shape[0])
    region = _cut(gray, x0, y0, x1, y1)
    if fit is CropFit.LETTERBOX:
        rh_px, rw_px = region.shape
        side = max(rh_px, rw_px)
        top, left = (side - rh_px) // 2, (side - rw_px) // 2
        region = cv2.copyMakeBorder(
            region, top, side - rh_px - top, left, side - rw_px - left, cv2.BORDER_CONSTANT, value=128
        )
    shrinking = region.shape[0] >= size and region.shape[1] >= size
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(region, (size, size), interpolation=interp)

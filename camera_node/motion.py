"""Stage 3 — motion: a background model on the tiny grayscale frame proposes regions.

* Global illumination change (cloud, lights, auto exposure) is divided out:
  each frame is scaled by the median ratio frame / background before
  differencing, so a uniform brightness change moves nothing. A change
  that still covers most of the frame (a scene cut, lights in one half)
  is a *global change*: the background is re-learnt, nothing is proposed.
* Repetitive motion (swaying trees, water) raises the per-pixel variance
  the model keeps, and with it that pixel's threshold. A moving pixel adds
  at most a threshold-sized deviation to that variance (a winsorised
  update), so a stream of people walking through the same spot does not
  teach the model to ignore people there.
* Foreground that stops changing (a parked object) is absorbed into the
  background after ``absorb_after`` seconds; people who stand still are kept alive
  by the person stage's re-checks. A *ghost* — the spot an absorbed object
  left, whose outline has edges in the background but not in the frame, or
  which shows the scene as a slow background remembers it from before the
  object covered it (a post a walker lingered in front of) — is absorbed at
  once, never proposed, and reported as *vacated*: whoever stood there left.
  The slow background does not learn where the person stage says people stand
  (``occupied``, the tracks it called a person): someone who sat for minutes is
  not taken into it, so the spot shows uncovered, a ghost, when they leave.
* Masks (polygons) mark where motion is ignored; masked pixels never move
  and take no part in the brightness and global-change estimates.
* Moving pixels are cleaned, grouped into connected regions, merged when
  they touch or lie stacked one above the other (the parts of one person),
  filtered by size and shape (a streak thinner than anyone, away from the
  left and right borders, is an edge a camera shake lit up) and capped per
  frame (largest first).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

from camera_node.config import MotionConfig, frames_spanning
from camera_node.levels import DarkScene
from models.inference.preprocess import Box

logger = logging.getLogger(__name__)

_MIN_VAR = 4.0  # floor on the noise variance (sigma 2 grey levels)
_KERNEL = np.ones((3, 3), np.uint8)
#: The slow background learns at this share of the background's rate (where nothing moves and nobody stands): a
#: person who stays a few seconds is not in it, nor one who stays for minutes where the person stage tracks them.
SCENE_RATE = 0.1
#: A changed region at least this share of whose pixels are twice as close to the slow background as to the
#: background shows the scene uncovered.
UNCOVERED = 0.8


@dataclass
class MotionResult:
    """Proposals (in tiny-frame pixels) and what the frame looked like to the model."""

    proposals: list[Box] = field(default_factory=list)
    moving_fraction: float = 0.0
    global_change: bool = False
    gain: float = 1.0
    vacated: list[Box] = field(default_factory=list)  # ghosts absorbed: spots something learnt in has left


class MotionDetector:
    """Per-pixel running mean/variance background with gain compensation."""

    def __init__(self, cfg: MotionConfig, fps: float, flat_below: float = 0.0) -> None:
        """``fps``: the rate frames are fed at; the config's times (``learn_time``, ``absorb_after``) are counted in
        its frames. ``flat_below``: a background whose grey levels span less than this share of 0-255 is a dark, flat
        scene (a camera at night: :class:`camera_node.levels.DarkScene`, detector.stretch_below); what moves in it, and what
        differs from a saved patch, must differ by ``min_diff`` times the share it spans (a walker there differs from
        it by as much less) as well as by ``threshold`` noise sigmas; a still pixel is told from noise by ``min_diff``
        itself. 0 = the floor is ``min_diff`` everywhere."""
        self.cfg = cfg
        self._dark = DarkScene(flat_below)  # whether the scene it compares against is dark and flat
        self._rate = min(1.0, 1.0 / (fps * cfg.learn_time))  # learnt a frame where nothing moves
        self._absorb_frames = frames_spanning(cfg.absorb_after, fps)
        self._bg: np.ndarray | None = None
        self._scene: np.ndarray | None = None  # slow background: what the scene looks like when nothing covers it
        self._var: np.ndarray | None = None
        self._prev: np.ndarray | None = None
        self._static: np.ndarray | None = None
        self._frame: np.ndarray | None = None  # last frame, gain-compensated
        self._watched: np.ndarray | None = None  # pixels outside every mask
        self._floor = cfg.min_diff  # the least difference that counts in the scene as it is now (see flat_below)
        self._frames = 0

    @property
    def watched(self) -> np.ndarray | None:
        """Pixels of the tiny frame outside every mask (None before the first frame)."""
        return self._watched

    def background_patch(self, box: Box) -> np.ndarray | None:
        """A copy of the learnt background under ``box`` (tiny-frame pixels), with its noise threshold."""
        return self._patch(self._bg, box)

    def scene_patch(self, box: Box) -> np.ndarray | None:
        """A copy of the slow background under ``box`` (the scene when nothing covers it: someone who stood still for
        a few seconds is not in it), with the background's noise threshold."""
        return self._patch(self._scene, box)

    def frame_patch(self, box: Box) -> np.ndarray | None:
        """A copy of the last frame (gain-compensated) under ``box``, with the background's noise threshold."""
        return self._patch(self._frame, box)

    def _patch(self, image: np.ndarray | None, box: Box) -> np.ndarray | None:
        if image is None:
            return None
        window = _slices(box, image.shape)
        limit = np.maximum(self.cfg.threshold * np.sqrt(self._var[window]), self._floor)
        return np.stack([image[window], limit])

    def differs_from(self, box: Box, patch: np.ndarray | None) -> float:
        """Share of ``box`` in the last frame that differs from a saved background patch."""
        if patch is None or self._frame is None:
            return 0.0
        current = self._frame[_slices(box, self._frame.shape)]
        if current.shape != patch.shape[1:] or not current.size:
            return 0.0
        return float((np.abs(current - patch[0]) > patch[1]).mean())

    def update(self, gray: np.ndarray, occupied: Iterable[Box] = ()) -> MotionResult:
        """Feed the next tiny grayscale frame; return its proposals. ``occupied``: where people stand (tiny-frame
        boxes, from the person stage): the slow background does not learn there (see :meth:`_learn`)."""
        frame = gray.astype(np.float32)
        if self._bg is None or self._bg.shape != frame.shape:
            self._bg, self._var, self._scene = frame.copy(), np.full(frame.shape, 25.0, np.float32), frame.copy()
            self._prev, self._static = frame.copy(), np.zeros(frame.shape, np.uint16)
            self._watched = ~polygon_mask(self.cfg.masks, frame.shape)
            self._frames = 1
            return MotionResult()
        gain = self._gain(frame)
        frame /= gain
        self._frame = frame
        if self._dark.below > 0:  # judged against the learnt background (a darkening of the frame is divided out)
            scene = np.clip(self._bg, 0, 255).astype(np.uint8)
            self._floor = self.cfg.min_diff * self._dark.contrast(scene, self._watched)
        diff = np.abs(frame - self._bg)
        moving = (diff > np.maximum(self.cfg.threshold * np.sqrt(self._var), self._floor)) & self._watched
        fraction = float(moving.sum()) / max(1, int(self._watched.sum()))
        moving = moving.astype(np.uint8)
        self._frames += 1
        if fraction > self.cfg.global_change:
            logger.debug("global change (%.0f%% of pixels); re-learning background", 100 * fraction)
            self._bg, self._prev, self._scene = frame, frame, frame.copy()
            self._static[:] = 0
            self._frames = 1
            return MotionResult(moving_fraction=fraction, global_change=True, gain=gain)
        self._learn(frame, moving, occupied)
        self._prev = frame
        if self._frames <= self.cfg.warmup_frames:
            return MotionResult(moving_fraction=fraction, gain=gain)
        proposals, vacated = self._regions(moving, frame)
        return MotionResult(proposals, fraction, False, gain, vacated)

    def _gain(self, frame: np.ndarray) -> float:
        """Median brightness ratio of frame to background over well-exposed pixels."""
        valid = (self._bg > 8) & (self._bg < 248) & (frame > 2) & self._watched
        if valid.sum() < 0.1 * frame.size:
            return 1.0
        return float(np.clip(np.median(frame[valid] / self._bg[valid]), 0.05, 20.0))

    def _learn(self, frame: np.ndarray, moving: np.ndarray, occupied: Iterable[Box] = ()) -> None:
        """Fast update where still, slow where moving; absorb foreground that stopped changing. The slow background
        learns neither where something moves nor under ``occupied`` boxes: someone sitting still is absorbed into the
        background, but the slow one keeps their spot as it was before they came, so it shows uncovered when they
        leave (learnt in over 20-40 s, the empty spot they left was a region, and scored 0.5-0.8 on re-checks)."""
        fg = moving.astype(bool)
        rate = np.where(fg, self._rate * 0.1, self._rate).astype(np.float32)
        delta = frame - self._bg
        self._bg += rate * delta
        kept = fg.copy()
        for box in occupied:
            kept[_slices(box, kept.shape)] = True
        self._scene += np.where(kept, 0.0, SCENE_RATE * self._rate) * (frame - self._scene)
        # A moving pixel is an outlier to the background: it adds at most a threshold-sized deviation
        # to the variance, so flicker that keeps coming back still raises it, but people passing do not.
        sq = delta * delta
        sq = np.where(fg, np.minimum(sq, self.cfg.threshold**2 * self._var), sq)
        self._var += rate * (sq - self._var)
        np.maximum(self._var, _MIN_VAR, out=self._var)
        unchanged = fg & (np.abs(frame - self._prev) < self.cfg.min_diff)
        self._static = np.where(unchanged, self._static + 1, 0).astype(np.uint16)
        ghost = self._static >= self._absorb_frames
        if ghost.any():
            self._bg[ghost] = frame[ghost]
            self._static[ghost] = 0

    def _regions(self, moving: np.ndarray, frame: np.ndarray) -> tuple[list[Box], list[Box]]:
        """The proposals, and the ghosts absorbed (the spots they name are empty again)."""
        mask = cv2.morphologyEx(moving, cv2.MORPH_OPEN, _KERNEL)
        mask = cv2.dilate(mask, _KERNEL, iterations=1)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        if n <= 1:
            return [], []
        frame_edges, bg_edges = _edges(frame), _edges(self._bg)
        boxes, ghosts = [], []
        for i in range(1, n):
            x, y, w, h = (int(v) for v in stats[i][:4])
            window = (slice(max(0, y - 1), y + h + 1), slice(max(0, x - 1), x + w + 1))
            region = labels[window] == i
            rim = region ^ cv2.erode(region.astype(np.uint8), _KERNEL).astype(bool)
            if (bg_edges[window][rim].sum() > self.cfg.ghost_ratio * frame_edges[window][rim].sum()
                    or self._uncovered(frame, window, region & moving[window].astype(bool))):
                self._bg[window][region] = frame[window][region]  # a ghost: absorb it now
                ghosts.append(Box(float(x), float(y), float(w), float(h)))
                continue
            boxes.append(Box(float(x), float(y), float(w), float(h)))
        boxes = merge_stacked(merge_touching(boxes, margin=1.0), self.cfg.stack_gap)
        area = float(moving.size)
        boxes = [b for b in boxes if self.cfg.min_area * area <= b.area <= self.cfg.max_area * area
                 and (b.w >= self.cfg.min_ratio * b.h or _at_side(b, moving.shape))]
        return sorted(boxes, key=lambda b: -b.area)[: self.cfg.max_regions], ghosts

    def _uncovered(self, frame: np.ndarray, window: tuple[slice, slice], changed: np.ndarray) -> bool:
        """Do the changed pixels show the scene as it was before something covered it (the slow background)?
        Something that stood there long enough to be learnt in has left, uncovering what was behind it: a
        ghost, even where the scene behind has more edges than what covered it (a post, a sign)."""
        if not changed.any():
            return False
        seen = frame[window][changed]
        closer = np.abs(seen - self._scene[window][changed]) < 0.5 * np.abs(seen - self._bg[window][changed])
        return float(closer.mean()) >= UNCOVERED


def polygon_mask(polygons: list[list[tuple[float, float]]], shape: tuple[int, int]) -> np.ndarray:
    """Boolean image of ``shape``: True inside any of the normalised ``polygons``."""
    h, w = shape
    mask = np.zeros(shape, np.uint8)
    for polygon in polygons:
        points = np.round(np.asarray(polygon, np.float32) * [w, h]).astype(np.int32)
        cv2.fillPoly(mask, [points], 1)
    return mask.astype(bool)


def _slices(box: Box, shape: tuple[int, int]) -> tuple[slice, slice]:
    """Array slices of ``box`` clipped to an image of ``shape``."""
    h, w = shape
    x0, y0 = min(w, max(0, int(box.x))), min(h, max(0, int(box.y)))
    x1, y1 = min(w, max(x0, int(np.ceil(box.x + box.w)))), min(h, max(y0, int(np.ceil(box.y + box.h))))
    return slice(y0, y1), slice(x0, x1)


def _at_side(box: Box, shape: tuple[int, int]) -> bool:
    """Does ``box`` reach the left or right border of an image of ``shape`` (within a pixel)? A region there is cut
    across its width: someone walking in shows as a sliver."""
    left, _, right, _ = box.borders(shape[1], shape[0], margin=1)
    return left or right


def _edges(image: np.ndarray) -> np.ndarray:
    """Gradient magnitude (Sobel, L1)."""
    return np.abs(cv2.Sobel(image, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(image, cv2.CV_32F, 0, 1))


def merge_touching(boxes: list[Box], margin: float) -> list[Box]:
    """Repeatedly union boxes that overlap or lie within ``margin`` pixels of each other."""
    return _merge_while(boxes, lambda a, b: a.intersects(b, margin))


def merge_stacked(boxes: list[Box], gap: float) -> list[Box]:
    """Repeatedly union boxes stacked one above the other: sharing at least half the narrower one's width
    and at most ``gap`` of the taller one's height apart (a person's head, body and legs that the
    background model sees as separate blobs where the clothes match the scene). ``gap`` 0: off."""
    if gap <= 0:
        return boxes

    def stacked(a: Box, b: Box) -> bool:
        shared = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
        apart = max(a.y, b.y) - min(a.y + a.h, b.y + b.h)
        return shared >= 0.5 * min(a.w, b.w) and apart <= gap * max(a.h, b.h)

    return _merge_while(boxes, stacked)


def _merge_while(boxes: list[Box], joins: Callable[[Box, Box], bool]) -> list[Box]:
    """Union any two boxes that ``joins`` pairs, until no pair is left."""
    boxes = list(boxes)
    merged = True
    while merged:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                if joins(boxes[i], boxes[j]):
                    boxes[i] = boxes[i].union(boxes[j])
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    return boxes

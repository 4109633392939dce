"""Stage 3b — levels: a dark, flat frame (a camera at night) is stretched before person crops are cut from it.

The person model learnt from images with a day's contrast. A camera at night spans a third of the grey
levels on a lifted black level, and people in it score under the threshold: the shipped model on MOT15
person crops under the suite's night look (:data:`camera_node.scenario.NIGHT`) reaches the threshold on
52% of them, 93% by day, and 93% again with the frame stretched. Like a camera's auto-levels, the 1st to
99th percentile of the motion frame's grey levels (a histogram of the tiny frame the MCU has decoded
anyway) is mapped onto 0-255 by a lookup table applied to the person crops, only when that span is under
``detector.stretch_below`` of the range, so a well-exposed frame is cut as it is; as a camera's day/night switch, a
scene judged dark stays so until it spans :data:`HYSTERESIS` more (:class:`DarkScene`). Masked pixels (motion
masks) take no part, as in the motion stage's brightness estimate. The motion stage keeps the frame as it
is: its per-pixel noise model already adapts to a dark scene, and its floor on a difference (``motion.min_diff``,
grey levels of a well-exposed frame) scales with the :func:`contrast` of the scene it compares against, its learnt
background: a walker in a scene spanning a third of the range differs from it by a third as much (far walkers at
night were not proposed), while a cloud darkening the frame for a while is divided out there and does not count.
"""
from __future__ import annotations

import numpy as np

#: The percentiles taken as the frame's black and white (a few hot or dead pixels do not set the span).
DARK, BRIGHT = 1.0, 99.0
#: A scene judged dark and flat stays so until it spans this share of the range more than ``stretch_below``.
HYSTERESIS = 0.1


def _flat(gray: np.ndarray, below: float, watched: np.ndarray | None) -> tuple[int, float] | None:
    """The black level and grey span (1st and 99th percentile) of ``gray``'s ``watched`` pixels (a masked timestamp
    strip's white text does not set the span) when that span is under ``below`` x 255; None for a well-exposed frame
    or ``below`` 0."""
    if below <= 0:
        return None
    pixels = gray[watched] if watched is not None else gray.ravel()
    if not pixels.size:
        return None
    share = np.cumsum(np.bincount(pixels, minlength=256)) / pixels.size  # the histogram, cumulated
    dark, bright = (int(np.searchsorted(share, p / 100.0)) for p in (DARK, BRIGHT))
    span = max(float(bright - dark), 1.0)
    return (dark, span) if span < below * 255.0 else None


def stretch_table(gray: np.ndarray, below: float, watched: np.ndarray | None = None) -> np.ndarray | None:
    """A 256-entry lookup table mapping ``gray``'s 1st-99th percentile (of its ``watched`` pixels) onto 0-255, or None
    when that span is at least ``below`` x 255 (a well-exposed frame) or ``below`` is 0."""
    flat = _flat(gray, below, watched)
    if flat is None:
        return None
    dark, span = flat
    levels = (np.arange(256, dtype=np.float32) - float(dark)) * (255.0 / span)
    return np.clip(np.rint(levels), 0, 255).astype(np.uint8)


def contrast(gray: np.ndarray, below: float, watched: np.ndarray | None = None) -> float:
    """The share of 0-255 that ``gray``'s 1st-99th percentile spans when :func:`stretch_table` stretches it (what a
    difference in it is worth against the same in a well-exposed frame), else 1."""
    flat = _flat(gray, below, watched)
    return 1.0 if flat is None else flat[1] / 255.0


def stretched(table: np.ndarray | None, gray: np.ndarray) -> np.ndarray:
    """``gray`` through ``table`` (unchanged when there is none)."""
    return gray if table is None else table[gray]


class DarkScene:
    """Whether a camera's scene is dark and flat, judged frame by frame as its day/night switch is, with hysteresis: dark
    once it spans under ``below`` of the range, and light again only once it spans over ``below`` + :data:`HYSTERESIS`.
    A scene at dusk spanning about ``below`` was otherwise cut as it is on one frame and stretched twice on the next,
    its motion floor halved and restored with it (a faint walker in a scene whose span drifted over 0.46-0.54 was
    proposed on 15 of 28 frames). Each stage that asks keeps its own."""

    def __init__(self, below: float) -> None:
        self.below = below
        self.dark = False

    def _limit(self) -> float:
        return self.below + HYSTERESIS if self.dark else self.below

    def stretch_table(self, gray: np.ndarray, watched: np.ndarray | None = None) -> np.ndarray | None:
        """:func:`stretch_table` of ``gray`` while the scene is dark (None while light)."""
        table = stretch_table(gray, self._limit(), watched)
        self.dark = table is not None
        return table

    def contrast(self, gray: np.ndarray, watched: np.ndarray | None = None) -> float:
        """:func:`contrast` of ``gray`` while the scene is dark (1 while light)."""
        share = contrast(gray, self._limit(), watched)
        self.dark = share < 1.0
        return share

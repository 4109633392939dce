"""Stage 4 — person: classify motion regions (and tracked people) with the int8 CNN.

Each region is cut from a larger decode of the sensor JPEG as a square crop
with context (:func:`models.inference.crop_region`, exactly as in training)
and classified in the real TFLM interpreter (or LiteRT). People found are
tracked; a track is re-checked every ``recheck_every`` frames even when
nothing moves, so someone standing still keeps the event alive — but only
while the region still differs from the empty background saved when the
person was last seen moving. A track left on a person-like background when
the person walked off therefore dies instead of keeping the event open
forever, and the motion stage's background keeps learning everywhere.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from camera_node.config import DetectorConfig
from models.inference import TfliteClassifier, crop_region
from models.inference.preprocess import Box

logger = logging.getLogger(__name__)


@dataclass
class Detection:
    """A classified region in sensor-frame pixels."""

    box: Box
    score: float
    person: bool
    from_track: bool = False


@dataclass
class Track:
    box: Box
    score: float
    last_positive: float
    last_checked_frame: int
    background: object = None  # the empty background under the box when last seen moving
    last_moved: float | None = None  # time of the last detection on a motion region
    hits: int = 1  # positive classifications on motion regions


def iou(a: Box, b: Box) -> float:
    inter = a.intersection_area(b)
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def scale_box(box: Box, factor: float) -> Box:
    return Box(box.x * factor, box.y * factor, box.w * factor, box.h * factor)


class PersonStage:
    """Runs the CNN on proposals and track re-checks; keeps the tracks."""

    def __init__(self, cfg: DetectorConfig, classifier: TfliteClassifier, threshold: float, person_scale: int,
                 frame_size: tuple[int, int] | None = None,
                 on_crops: Callable[[int, np.ndarray, np.ndarray], None] | None = None) -> None:
        self.cfg = cfg
        self.on_crops = on_crops  # sees every frame's model-input crops and scores (crop mining)
        self.frame_size = frame_size
        self.classifier = classifier
        self.threshold = threshold
        self.person_scale = person_scale
        self.tracks: list[Track] = []
        self.inferences = 0
        self.skipped = 0  # candidates left unclassified by the per-frame cap or the MCU budget

    def process(
        self,
        frame_index: int,
        timestamp: float,
        proposals: list[Box],
        decode: Callable[[], np.ndarray],
        budget_left: int,
        snapshot: Callable[[Box], object],
        differs: Callable[[Box, object], float],
    ) -> list[Detection]:
        """Classify ``proposals`` (sensor-frame pixels) and due track re-checks.

        ``decode`` returns the person-scale grayscale frame; it is called only
        if something needs classifying. ``budget_left`` caps the CNN runs.
        ``snapshot(box)`` saves the empty background under a box;
        ``differs(box, saved)`` is the share of the box that now differs from
        it: a track is re-checked (the CNN run) only above ``recheck_foreground``.
        """
        self._expire(timestamp)
        candidates: list[tuple[Box, bool]] = [(p, False) for p in proposals]
        for track in self.tracks:
            due = track.hits >= self.cfg.recheck_after_hits and frame_index - track.last_checked_frame >= self.cfg.recheck_every
            if not due or any(iou(track.box, p) > 0.2 for p in proposals):
                continue
            if differs(track.box, track.background) < self.cfg.recheck_foreground:
                track.last_checked_frame = frame_index  # the spot looks empty again: nobody to classify there
                continue
            candidates.append((track.box, True))
        allowed = min(self.cfg.max_inferences_per_frame, budget_left)
        self.skipped += max(0, len(candidates) - allowed)
        candidates = candidates[:allowed]
        if not candidates:
            return []
        gray = decode()
        factor = 1.0 / self.person_scale
        crops = np.stack([crop_region(gray, scale_box(box, factor), self.classifier.input_size) for box, _ in candidates])
        scores = self.classifier.predict(crops)
        self.inferences += len(candidates)
        if self.on_crops is not None:
            self.on_crops(frame_index, crops, scores)
        detections = []
        for (box, tracked), score in zip(candidates, scores):
            detections.append(Detection(box, float(score), bool(score >= self.threshold), tracked))
        self._update_tracks(frame_index, timestamp, detections, snapshot)
        return detections

    def _expire(self, timestamp: float) -> None:
        """Drop tracks without a counted positive for ``track_ttl``, or kept by re-checks alone too long."""
        def alive(t: Track) -> bool:
            if timestamp - t.last_positive > self.cfg.track_ttl:
                return False
            still = timestamp - (t.last_moved if t.last_moved is not None else t.last_positive)
            limit = self.cfg.edge_timeout if self._at_edge(t.box) else self.cfg.stationary_timeout
            return still <= limit

        self.tracks = [t for t in self.tracks if alive(t)]

    def _at_edge(self, box: Box) -> bool:
        """Touching the frame border: people stop there mostly by walking out of view."""
        if self.frame_size is None:
            return False
        w, h = self.frame_size
        margin = 0.02 * max(w, h)
        return box.x <= margin or box.y <= margin or box.x + box.w >= w - margin or box.y + box.h >= h - margin

    def _update_tracks(self, frame_index: int, timestamp: float, detections: list[Detection], snapshot: Callable[[Box], object]) -> None:
        for det in detections:
            match = max(self.tracks, key=lambda t: iou(t.box, det.box), default=None)
            overlapping = match is not None and iou(match.box, det.box) > 0.2
            if overlapping:
                match.last_checked_frame = frame_index
            if not det.person:
                continue
            if det.from_track:
                match.score, match.last_positive = det.score, timestamp
            elif overlapping:
                match.box, match.score, match.last_positive, match.last_moved = det.box, det.score, timestamp, timestamp
                match.hits += 1
                match.background = snapshot(det.box)
            else:
                self.tracks.append(Track(det.box, det.score, timestamp, frame_index, snapshot(det.box), timestamp))

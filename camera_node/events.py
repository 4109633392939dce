"""Stage 5 — events: from per-frame person detections to new / update / end.

* A person counts if the bottom centre of the box lies in a zone (if any are
  configured) and the box area is within the configured share of the frame.
* An event starts once ``start_k`` of the last ``start_n`` frames the CNN
  ran on had a person; its start is the first of those frames.
* It ends ``event_gap`` seconds after the last person frame, and is split
  when it reaches ``max_length``.
* Ids are ``<start ms>-<camera>-<boot>``: stable for the event and never
  reused, even after a reboot that resets the clock (no NTP yet), because
  ``<boot>`` is random per start of the node.
"""
from __future__ import annotations

import logging
import secrets
from collections import deque
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from camera_node.config import EventConfig
from camera_node.person import Detection
from models.inference.preprocess import Box

logger = logging.getLogger(__name__)


@dataclass
class Event:
    event_id: str
    start_time: float
    start_frame: int
    alert_time: float
    alert_frame: int
    last_seen_time: float
    last_seen_frame: int
    best_score: float
    best_box: Box
    best_frame: int
    zones: set[str] = field(default_factory=set)
    seq: int = 0
    end_frame: int | None = None
    end_time: float | None = None


@dataclass
class EventChange:
    """``kind`` is 'new', 'update' or 'end'; ``event`` a snapshot."""

    kind: str
    event: Event
    best_changed: bool = False


class ZoneFilter:
    """Zone membership (bottom-centre of the box) and box-size limits."""

    def __init__(self, cfg: EventConfig, width: int, height: int) -> None:
        self.cfg = cfg
        self.area = float(width * height)
        self.zones = [(z.name, (np.asarray(z.points, np.float32) * [width, height]).astype(np.float32)) for z in cfg.zones]

    def zones_of(self, box: Box) -> set[str] | None:
        """Zones the person stands in; ``None`` if the box does not count."""
        share = box.area / self.area
        if not (self.cfg.min_box_area <= share <= self.cfg.max_box_area):
            return None
        if not self.zones:
            return set()
        foot = (float(box.cx), float(box.y + box.h))
        inside = {name for name, poly in self.zones if cv2.pointPolygonTest(poly, foot, False) >= 0}
        return inside or None


class EventStateMachine:
    """Feed it every frame's detections; it returns what changed."""

    def __init__(self, cfg: EventConfig, camera_id: str, width: int, height: int, boot_id: str | None = None,
                 log_level: int = logging.INFO) -> None:
        self.cfg = cfg
        self.log_level = log_level  # a reference recorder's machine logs at DEBUG
        self.camera_id = camera_id
        self.boot_id = boot_id or secrets.token_hex(3)
        self.filter = ZoneFilter(cfg, width, height)
        self.history: deque[tuple[int, float, bool]] = deque(maxlen=cfg.start_n)
        self.current: Event | None = None
        self._last_update = 0.0
        self._best_dirty = False
        self.event_gap = cfg.event_gap

    def update(self, frame_index: int, ts: float, detections: list[Detection]) -> list[EventChange]:
        """``detections`` of this frame; an empty list on a frame where the CNN did not run changes no history."""
        people = [(d, z) for d in detections if d.person and (z := self.filter.zones_of(d.box)) is not None]
        if detections:
            self.history.append((frame_index, ts, bool(people)))
        changes: list[EventChange] = []
        ev = self.current
        if ev is not None and ts - ev.start_time >= self.cfg.max_length:
            changes.append(self._end(frame_index, ts, ev.last_seen_time if not people else ts))
            if people:
                changes.append(self._start(frame_index, ts, frame_index, ts, people))
                return changes
            ev = None
        if ev is None:
            if sum(p for _, _, p in self.history) >= self.cfg.start_k:
                first_index, first_ts = next((i, t) for i, t, p in self.history if p)
                changes.append(self._start(frame_index, ts, first_index, first_ts, people))
            return changes
        if people:
            self._seen(ev, frame_index, ts, people)
        elif ts - ev.last_seen_time > self.event_gap:
            changes.append(self._end(frame_index, ts, ev.last_seen_time))
            return changes
        if ts - self._last_update >= self.cfg.update_every:
            ev.seq += 1
            self._last_update = ts
            changes.append(EventChange("update", replace(ev, zones=set(ev.zones)), self._best_dirty))
            self._best_dirty = False
        return changes

    def flush(self, frame_index: int, ts: float) -> list[EventChange]:
        """End the open event (end of stream, shutdown)."""
        return [self._end(frame_index, ts, self.current.last_seen_time)] if self.current else []

    def _start(self, frame_index: int, ts: float, first_index: int, first_ts: float, people) -> EventChange:
        best, _ = max(people, key=lambda p: p[0].score) if people else (None, None)
        ev = Event(
            event_id=f"{round(first_ts * 1000)}-{self.camera_id}-{self.boot_id}",
            start_time=first_ts,
            start_frame=first_index,
            alert_time=ts,
            alert_frame=frame_index,
            last_seen_time=ts,
            last_seen_frame=frame_index,
            best_score=best.score if best else 0.0,
            best_box=best.box if best else Box(0, 0, 1, 1),
            best_frame=frame_index,
        )
        for _, zones in people:
            ev.zones |= zones
        self.current = ev
        self._last_update = ts
        self._best_dirty = False
        self.history.clear()
        logger.log(self.log_level, "%s: event %s started at frame %d", self.camera_id, ev.event_id, frame_index)
        return EventChange("new", replace(ev, zones=set(ev.zones)), True)

    def _seen(self, ev: Event, frame_index: int, ts: float, people) -> None:
        ev.last_seen_time, ev.last_seen_frame = ts, frame_index
        for det, zones in people:
            ev.zones |= zones
            if det.score > ev.best_score:
                ev.best_score, ev.best_box, ev.best_frame = det.score, det.box, frame_index
                self._best_dirty = True

    def _end(self, frame_index: int, ts: float, end_time: float) -> EventChange:
        ev = self.current
        ev.seq += 1
        ev.end_frame, ev.end_time = frame_index, end_time
        self.current = None
        self.history.clear()
        logger.log(self.log_level, "%s: event %s ended at frame %d", self.camera_id, ev.event_id, frame_index)
        return EventChange("end", replace(ev, zones=set(ev.zones)), self._best_dirty)

"""Score an event recorder against per-frame ground truth, next to two references.

References, run on the same frames in the same process:

* ``motion-only`` — a Motion-style recorder: the same motion stage and event
  rules, but any motion counts (no person CNN).
* ``oracle`` — records exactly the true person intervals with the same
  pre/post roll, alerting on their first frame.

Bytes of the references are computed with the exact AVI size of the very
JPEGs the sensor produced; the node's own bytes are the files it wrote.
"""
from __future__ import annotations

import csv
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from camera_node.avi import avi_size
from camera_node.config import EventConfig, RecorderConfig
from camera_node.events import EventStateMachine
from camera_node.person import Detection
from models.inference.preprocess import Box

#: The camera id of the motion-only reference recorder's events (it logs them at DEBUG: they are not the node's).
MOTION_ONLY_REFERENCE = "motion-only-reference"


@dataclass
class SimEvent:
    """An event as frame indices, with what it cost."""

    alert_frame: int
    start_frame: int
    clip_first: int | None
    clip_last: int | None
    bytes: int


def load_presence(path: Path, frames: int) -> np.ndarray:
    """Per-frame person presence from a MOT ``gt.txt`` (frames from 1) or a CSV ``frame,present`` (frames from 0)."""
    path = Path(path)
    presence = np.zeros(frames, bool)
    text = path.read_text()
    first = text.splitlines()[0] if text.strip() else ""
    if first.replace(" ", "").lower().startswith("frame,present"):
        for row in csv.DictReader(text.splitlines()):
            i = int(row["frame"])
            if 0 <= i < frames:
                presence[i] = row["present"].strip().lower() in ("1", "true", "yes")
        return presence
    from models.data.mot import parse_mot_gt

    for frame in parse_mot_gt(text):
        if 0 <= frame - 1 < frames:
            presence[frame - 1] = True
    return presence


def intervals(presence: np.ndarray, merge_gap: int = 0) -> list[tuple[int, int]]:
    """Runs of present frames as inclusive ``(first, last)``; gaps of <= ``merge_gap`` frames are bridged."""
    runs: list[tuple[int, int]] = []
    idx = np.flatnonzero(presence)
    for i in idx:
        if runs and i - runs[-1][1] - 1 <= merge_gap:
            runs[-1] = (runs[-1][0], int(i))
        else:
            runs.append((int(i), int(i)))
    return runs


def clip_bytes(jpeg_bytes: list[int], first: int, last: int) -> int:
    return avi_size(jpeg_bytes[first : last + 1])


def oracle_events(truth: list[tuple[int, int]], fps: float, rec: RecorderConfig, jpeg_bytes: list[int], per_event_bytes: int) -> list[SimEvent]:
    """Exactly the true intervals with the same pre/post roll."""
    n = len(jpeg_bytes)
    out = []
    for s, e in truth:
        first, last = max(0, s - math.ceil(rec.pre_roll * fps)), min(n - 1, e + int(rec.post_roll * fps))
        out.append(SimEvent(s, s, first, last, clip_bytes(jpeg_bytes, first, last) + per_event_bytes))
    return out


def motion_only_events(motion: list[bool], timestamps: list[float], fps: float, events: EventConfig, rec: RecorderConfig, jpeg_bytes: list[int], per_event_bytes: int, width: int, height: int) -> list[SimEvent]:
    """A recorder that treats any motion as an event (same event rules, no CNN)."""
    machine = EventStateMachine(events.model_copy(update={"zones": [], "min_box_area": 0.0, "max_box_area": 1.0}), MOTION_ONLY_REFERENCE, width, height,
                               log_level=logging.DEBUG)
    whole = [Detection(Box(0, 0, width, height), 1.0, True)]
    spans: list[tuple[int, int, int]] = []  # (start_frame, alert_frame, last_seen_frame)
    for i, (moving, ts) in enumerate(zip(motion, timestamps)):
        for change in machine.update(i, ts, whole if moving else []):
            if change.kind == "end":
                spans.append((change.event.start_frame, change.event.alert_frame, change.event.last_seen_frame))
    if machine.current is not None:
        ev = machine.current
        spans.append((ev.start_frame, ev.alert_frame, ev.last_seen_frame))
    n = len(jpeg_bytes)
    out = []
    for start, alert, last_seen in spans:
        first, last = max(0, start - math.ceil(rec.pre_roll * fps)), min(n - 1, last_seen + int(rec.post_roll * fps))
        out.append(SimEvent(alert, start, first, last, clip_bytes(jpeg_bytes, first, last) + per_event_bytes))
    return out


def score(events: list[SimEvent], truth: list[tuple[int, int]], presence: np.ndarray, fps: float, continuous_bytes: int) -> dict:
    """Events caught, false alerts, frame recall, alert latency and storage saved."""
    def overlaps(ev: SimEvent, s: int, e: int) -> bool:
        lo = ev.start_frame if ev.clip_first is None else min(ev.start_frame, ev.clip_first)
        hi = ev.alert_frame if ev.clip_last is None else max(ev.alert_frame, ev.clip_last)
        return lo <= e and hi >= s

    caught, latencies = 0, []
    for s, e in truth:
        hits = [ev for ev in events if overlaps(ev, s, e) and ev.alert_frame <= e]
        if hits:
            caught += 1
            latencies.append(max(0, min(ev.alert_frame for ev in hits) - s) / fps)
    false_alerts = sum(1 for ev in events if not any(overlaps(ev, s, e) for s, e in truth))
    recorded = np.zeros(len(presence), bool)
    for ev in events:
        if ev.clip_first is not None:
            recorded[ev.clip_first : ev.clip_last + 1] = True
    spent = sum(ev.bytes for ev in events)
    return {
        "person_intervals": len(truth),
        "events": len(events),
        "events_caught": caught,
        "false_alerts": false_alerts,
        "frame_recall": round(float(recorded[presence].mean()), 4) if presence.any() else None,  # nothing to recall
        "median_alert_latency_s": round(float(np.median(latencies)), 3) if latencies else None,
        "max_alert_latency_s": round(float(max(latencies)), 3) if latencies else None,
        "bytes": spent,
        "storage_saved": round(1.0 - spent / continuous_bytes, 5) if continuous_bytes else 0.0,
    }


def metrics_table(metrics: dict) -> str:
    """Markdown table: node vs references."""
    cols = ["person_intervals", "events", "events_caught", "false_alerts", "frame_recall", "median_alert_latency_s", "max_alert_latency_s", "bytes", "storage_saved"]
    lines = ["| recorder | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, m in metrics["recorders"].items():
        lines.append(f"| {name} | " + " | ".join("-" if m[c] is None else str(m[c]) for c in cols) + " |")
    lines.append(f"\nContinuous MJPEG: {metrics['continuous_bytes']:,} B. Storage saved vs oracle: {metrics['saved_vs_oracle']:.3f}.")
    return "\n".join(lines) + "\n"

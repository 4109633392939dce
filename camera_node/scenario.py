"""``smartcam node scenario``: a labelled event scenario from a MOT sequence and distractor videos.

Real footage with long empty stretches and exact person intervals is rare,
so this builds it: the sequence's person-free background is estimated
(per-pixel median over frames where no box covers the pixel, inpainted where
one always does); people of the tracks not chosen for a segment are painted
out with that background; and a timeline alternates empty stretches, person
segments, a slow illumination dip and person-free motion clips (traffic,
foliage). Output: the video (MJPEG AVI), ``truth.csv`` (``frame,present``)
and ``scenario.json`` (the timeline).
"""
from __future__ import annotations

import csv
import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from models.data.mot import find_video, parse_mot_rows

logger = logging.getLogger(__name__)


@dataclass
class Sequence:
    frames: list[np.ndarray]  # BGR
    tracks: dict[int, dict[int, tuple[int, int, int, int]]]  # track id -> {frame index: box}
    fps: float
    name: str


@dataclass
class Segment:
    kind: str  # empty | person | illumination | distractor
    first_frame: int
    frames: int
    detail: dict = field(default_factory=dict)


def read_video(path: Path) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"cannot open video {path}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    if not frames:
        raise ValueError(f"no frames in {path}")
    return frames, fps


def load_sequence(seq_dir: Path) -> Sequence:
    """A MOT sequence's frames and per-track boxes (0-based frame indices)."""
    video = find_video(seq_dir)
    if video is None:
        raise ValueError(f"{seq_dir}: no video file")
    frames, fps = read_video(video)
    tracks: dict[int, dict[int, tuple[int, int, int, int]]] = {}
    for frame, track, b in parse_mot_rows((Path(seq_dir) / "gt" / "gt.txt").read_text()):
        tracks.setdefault(track, {})[frame - 1] = tuple(round(v) for v in (b.x, b.y, b.w, b.h))
    return Sequence(frames, tracks, fps, Path(seq_dir).name)


def walking_tracks(seq: Sequence, min_travel: float = 1.0) -> list[int]:
    """Tracks whose box centre travels more than ``min_travel`` box widths.

    People standing still for the whole sequence are never chosen: they are
    painted out everywhere, so empty stretches and segments agree.
    """
    out = []
    for tid, boxes in seq.tracks.items():
        (x0, y0, w0, h0), (x1, y1, w1, h1) = boxes[min(boxes)], boxes[max(boxes)]
        travel = np.hypot((x1 + w1 / 2) - (x0 + w0 / 2), (y1 + h1 / 2) - (y0 + h0 / 2))
        if travel > min_travel * max(w0, w1):
            out.append(tid)
    return out


def _box_mask(shape: tuple[int, int], boxes, grow: float = 0.1) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    for x, y, w, h in boxes:
        gx, gy = int(w * grow), int(h * grow)
        cv2.rectangle(mask, (x - gx, y - gy), (x + w + gx, y + h + gy), 255, -1)
    return mask


def estimate_background(seq: Sequence) -> np.ndarray:
    """Per-pixel median of the frames where no (grown) person box covers the pixel."""
    h, w = seq.frames[0].shape[:2]
    boxes_at = [[t[i] for t in seq.tracks.values() if i in t] for i in range(len(seq.frames))]
    masks = np.stack([_box_mask((h, w), b) > 0 for b in boxes_at])
    stack = np.stack(seq.frames).astype(np.float32)
    stack[masks] = np.nan
    bg = np.empty((h, w, 3), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels are inpainted below
        for y0 in range(0, h, 48):
            bg[y0 : y0 + 48] = np.nanmedian(stack[:, y0 : y0 + 48], axis=0)
    never = np.isnan(bg).any(axis=2)
    bg = np.nan_to_num(bg).clip(0, 255).astype(np.uint8)
    if never.any():
        bg = cv2.inpaint(bg, never.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)
    return bg


def paint_out(frame: np.ndarray, background: np.ndarray, remove, keep) -> np.ndarray:
    """Replace the ``remove`` boxes with background, except where ``keep`` boxes are."""
    shape = frame.shape[:2]
    mask = _box_mask(shape, remove, 0.08).astype(np.float32) / 255
    mask *= 1 - _box_mask(shape, keep, 0.0).astype(np.float32) / 255
    mask = cv2.GaussianBlur(mask, (9, 9), 0)[..., None]
    return (frame * (1 - mask) + background * mask).astype(np.uint8)


class ScenarioWriter:
    """Appends frames to the video and presence to the truth, tracking segments."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float, seed: int) -> None:
        self.path, self.size, self.fps = Path(path), size, fps
        self.writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
        if not self.writer.isOpened():
            raise ValueError(f"cannot write {path}")
        self.writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
        self.presence: list[bool] = []
        self.segments: list[Segment] = []
        self.rng = np.random.default_rng(seed)

    def add(self, frame: np.ndarray, present: bool, noise: float = 2.0) -> None:
        if frame.shape[1::-1] != self.size:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        if noise:
            frame = np.clip(frame + self.rng.normal(0, noise, frame.shape), 0, 255).astype(np.uint8)
        self.writer.write(frame)
        self.presence.append(present)

    def segment(self, kind: str, frames: int, **detail) -> None:
        self.segments.append(Segment(kind, len(self.presence) - frames, frames, detail))

    def close(self) -> None:
        self.writer.release()


def build_scenario(
    seq_dirs: list[Path],
    distractors: list[Path],
    out_dir: Path,
    fps: float | None = None,
    size: tuple[int, int] | None = None,
    empty_seconds: float = 12.0,
    seed: int = 0,
) -> dict:
    """Write ``scenario.avi``, ``truth.csv`` and ``scenario.json`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seqs = [load_sequence(d) for d in tqdm(seq_dirs, desc="load sequences", unit="seq")]
    first = seqs[0]
    fps = fps or first.fps
    size = size or first.frames[0].shape[1::-1]
    out = ScenarioWriter(out_dir / "scenario.avi", size, fps, seed)
    def empty(bg: np.ndarray, seconds: float, kind: str = "empty", gain_dip: float = 0.0) -> None:
        n = round(seconds * fps)
        for i in range(n):
            gain = 1.0 - gain_dip * np.sin(np.pi * i / max(n - 1, 1)) ** 2
            out.add(np.clip(bg.astype(np.float32) * gain, 0, 255).astype(np.uint8), False)
        out.segment(kind, n, **({"min_gain": round(1 - gain_dip, 3)} if gain_dip else {}))

    def person_segment(seq: Sequence, bg: np.ndarray, chosen: list[int]) -> None:
        others = [t for t in seq.tracks if t not in chosen]
        n = round(len(seq.frames) / seq.fps * fps)
        for i in range(n):
            src = min(len(seq.frames) - 1, int(i * seq.fps / fps))
            keep = [seq.tracks[t][src] for t in chosen if src in seq.tracks[t]]
            remove = [seq.tracks[t][src] for t in others if src in seq.tracks[t]]
            out.add(paint_out(seq.frames[src], bg, remove, keep), bool(keep))
        out.segment("person", n, sequence=seq.name, tracks=chosen)

    def distractor(path: Path, seconds: float) -> None:
        frames, src_fps = read_video(path)
        n = min(round(seconds * fps), int(len(frames) / src_fps * fps))
        for i in range(n):
            out.add(frames[min(len(frames) - 1, int(i * src_fps / fps))], False)
        out.segment("distractor", n, video=path.name)

    for k, seq in enumerate(seqs):
        bg = estimate_background(seq)
        by_length = sorted(walking_tracks(seq), key=lambda t: -len(seq.tracks[t]))
        groups = [by_length[0::2][:3], by_length[1::2][:3]]
        empty(bg, empty_seconds)
        person_segment(seq, bg, groups[0])
        empty(bg, empty_seconds)
        empty(bg, 8.0, "illumination", gain_dip=0.45)
        if distractors:
            distractor(distractors[k % len(distractors)], 8.0)
            empty(bg, empty_seconds * 0.5)
        if groups[1]:
            person_segment(seq, bg, groups[1])
            empty(bg, empty_seconds)
    out.close()
    with open(out_dir / "truth.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["frame", "present"])
        w.writerows((i, int(p)) for i, p in enumerate(out.presence))
    doc = {
        "video": "scenario.avi",
        "truth": "truth.csv",
        "fps": fps,
        "size": list(size),
        "frames": len(out.presence),
        "person_frames": int(sum(out.presence)),
        "segments": [s.__dict__ for s in out.segments],
        "sources": [str(d) for d in seq_dirs] + [str(d) for d in distractors],
    }
    (out_dir / "scenario.json").write_text(json.dumps(doc, indent=2))
    return doc


def presence_only_truth(video: Path, out_csv: Path) -> int:
    """A person-free video's truth file (every frame absent); returns the frame count."""
    frames, _ = read_video(video)
    with open(out_csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["frame", "present"])
        w.writerows((i, 0) for i in range(len(frames)))
    return len(frames)

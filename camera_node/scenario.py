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
import hashlib
import json
import logging
import shutil
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from models.data.mot import find_video, parse_mot_rows
from models.inference.preprocess import Box

logger = logging.getLogger(__name__)


@dataclass
class Sequence:
    frames: list[np.ndarray]  # BGR
    tracks: dict[int, dict[int, tuple[int, int, int, int]]]  # track id -> {frame index: box}
    fps: float
    name: str


@dataclass(frozen=True)
class CameraLook:
    """How the simulated camera renders the scene: grey levels times ``gain`` plus ``offset``, then its noise
    (``noise``: standard deviation in grey levels, drawn for every pixel of every frame); ``mirrored``: left and
    right swapped (a camera facing the other way: people walk and cars leave the other way)."""

    gain: float = 1.0
    offset: float = 0.0
    noise: float = 2.0
    mirrored: bool = False


#: A camera at night (IR or high gain): about a third of the day's contrast on a lifted black level, and
#: two and a half times the noise.
NIGHT = CameraLook(gain=0.35, offset=12.0, noise=5.0)
#: A camera at dusk or in a dim room: three fifths of the day's contrast, nearly twice its noise.
DUSK = CameraLook(gain=0.6, offset=8.0, noise=3.5)
#: The looks ``smartcam node scenario --look`` offers, by name.
LOOKS = {"day": CameraLook(), "dusk": DUSK, "night": NIGHT}


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


def _clear_view_frame(seq: Sequence, track: int) -> int:
    """The frame nearest the middle of ``track`` where its person is fully in view and apart from everyone
    else (painting the others out there would cut into them); the least crowded one if there is none."""
    boxes = seq.tracks[track]
    w, h = seq.frames[0].shape[1::-1]

    def crowding(f: int) -> float:
        x, y, bw, bh = boxes[f]
        me = Box(x - 0.2 * bw, y - 0.1 * bh, 1.4 * bw, 1.2 * bh)
        others = [Box(*t[f]) for k, t in seq.tracks.items() if k != track and f in t]
        return sum(me.intersection_area(o) for o in others) / me.area

    inside = [f for f, (x, y, bw, bh) in boxes.items() if x > 4 and y > 4 and x + bw < w - 4 and y + bh < h - 4]
    span = sorted(inside or boxes)
    middle = span[len(span) // 2]
    return min(span, key=lambda f: (crowding(f) > 0, crowding(f) if crowding(f) > 0 else abs(f - middle)))


class ScenarioBuilder:
    """Appends segments to one labelled video: the frames (MJPEG AVI), per-frame presence and the timeline.

    Every frame gets the sensor's noise; held frames (a person who stays still, a parked car) also get
    a slow brightness flicker, and a held person a sub-pixel sway, so nothing is a frozen copy.
    """

    def __init__(self, out_dir: Path, size: tuple[int, int], fps: float, seed: int = 0,
                 look: CameraLook = CameraLook()) -> None:
        self.out_dir, self.size, self.fps, self.look = Path(out_dir), size, fps, look
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.writer = cv2.VideoWriter(str(self.out_dir / "scenario.avi"), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
        if not self.writer.isOpened():
            raise ValueError(f"cannot write {self.out_dir / 'scenario.avi'}")
        self.writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
        self.presence: list[bool] = []
        self.segments: list[Segment] = []
        self.sources: list[str] = []
        self.rng = np.random.default_rng(seed)
        self._videos: dict[Path, tuple[list[np.ndarray], float]] = {}

    # -- frames ----------------------------------------------------------
    def add(self, frame: np.ndarray, present: bool) -> None:
        """One frame as the camera (``look``) sees it."""
        if frame.shape[1::-1] != self.size:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        look = self.look
        if look.mirrored:
            frame = cv2.flip(frame, 1)
        if (look.gain, look.offset) != (1.0, 0.0):
            frame = cv2.convertScaleAbs(frame, alpha=look.gain, beta=look.offset)
        if look.noise:  # the sensor's noise, drawn in float32 (a third faster than float64: building is mostly this)
            noisy = self.rng.standard_normal(frame.shape, dtype=np.float32)
            noisy *= look.noise
            noisy += frame
            frame = np.clip(noisy, 0, 255, out=noisy).astype(np.uint8)
        self.writer.write(frame)
        self.presence.append(present)

    def _hold(self, frame: np.ndarray, seconds: float, present: bool, sway_box: tuple[int, int, int, int] | None = None) -> int:
        """``frame`` for ``seconds``: flicker (+-3% gain, slow), and inside ``sway_box`` a sub-pixel sway."""
        n = round(seconds * self.fps)
        mask = None
        if sway_box is not None:
            mask = cv2.GaussianBlur(_box_mask(frame.shape[:2], [sway_box], 0.1).astype(np.float32) / 255, (9, 9), 0)[..., None]
        for i in range(n):
            t = i / self.fps
            out = frame.astype(np.float32)
            if mask is not None:
                dx, dy = 0.8 * np.sin(2 * np.pi * t / 4.1), 0.5 * np.sin(2 * np.pi * t / 3.3)
                moved = cv2.warpAffine(frame, np.float32([[1, 0, dx], [0, 1, dy]]), frame.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)
                out = out * (1 - mask) + moved.astype(np.float32) * mask
            gain = 1.0 + 0.03 * np.sin(2 * np.pi * t / 2.3) + self.rng.normal(0, 0.004)
            self.add(np.clip(out * gain, 0, 255).astype(np.uint8), present)
        return n

    def _segment(self, kind: str, frames: int, **detail) -> None:
        self.segments.append(Segment(kind, len(self.presence) - frames, frames, detail))

    def _video(self, path: Path) -> tuple[list[np.ndarray], float]:
        if path not in self._videos:
            self._videos[path] = read_video(path)
            self.sources.append(str(path))
        return self._videos[path]

    # -- segments --------------------------------------------------------
    def empty(self, bg: np.ndarray, seconds: float, kind: str = "empty", gain_dip: float = 0.0) -> None:
        """The empty scene; ``gain_dip`` darkens it smoothly by that share and back (a cloud, auto-exposure)."""
        n = round(seconds * self.fps)
        for i in range(n):
            gain = 1.0 - gain_dip * np.sin(np.pi * i / max(n - 1, 1)) ** 2
            self.add(np.clip(bg.astype(np.float32) * gain, 0, 255).astype(np.uint8), False)
        self._segment(kind, n, **({"min_gain": round(1 - gain_dip, 3)} if gain_dip else {}))

    def _person_frames(self, seq: Sequence, bg: np.ndarray, chosen: list[int]):
        """(source index, frame with only ``chosen`` people, their boxes) at the output frame rate."""
        others = [t for t in seq.tracks if t not in chosen]
        for i in range(round(len(seq.frames) / seq.fps * self.fps)):
            src = min(len(seq.frames) - 1, int(i * seq.fps / self.fps))
            keep = [seq.tracks[t][src] for t in chosen if src in seq.tracks[t]]
            remove = [seq.tracks[t][src] for t in others if src in seq.tracks[t]]
            yield src, paint_out(seq.frames[src], bg, remove, keep), keep

    def person(self, seq: Sequence, bg: np.ndarray, chosen: list[int]) -> None:
        """The sequence with only the ``chosen`` tracks' people: they walk through."""
        n = 0
        for _, frame, keep in self._person_frames(seq, bg, chosen):
            self.add(frame, bool(keep))
            n += 1
        self._segment("person", n, sequence=seq.name, tracks=chosen)
        self.sources.append(seq.name)

    def still(self, seq: Sequence, bg: np.ndarray, track: int, seconds: float) -> None:
        """One person walks in, stays still for ``seconds`` (breathing-size sway, flicker, noise), walks on."""
        boxes = seq.tracks[track]
        hold_at = _clear_view_frame(seq, track)
        n, held = 0, False
        for src, frame, keep in self._person_frames(seq, bg, [track]):
            if not held and src >= hold_at:
                held = True
                n += self._hold(frame, seconds, bool(keep), boxes.get(src))
            self.add(frame, bool(keep))
            n += 1
        self._segment("still", n, sequence=seq.name, tracks=[track], hold_seconds=seconds,
                      person_height=round(boxes[hold_at][3]))
        self.sources.append(seq.name)

    def far(self, seq: Sequence, bg: np.ndarray, chosen: list[int], scale: float) -> None:
        """The ``chosen`` people scaled by ``scale`` and walking across the upper (far) part of the empty scene."""
        w, h = seq.frames[0].shape[1::-1]
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        ox, oy = (w - sw) // 2, round(0.12 * h)
        n, heights = 0, []
        for _, frame, keep in self._person_frames(seq, bg, chosen):
            diff = np.abs(frame.astype(np.int16) - bg.astype(np.int16)).max(axis=2) > 20
            alpha = (diff & (_box_mask(diff.shape, keep, 0.1) > 0)).astype(np.uint8) * 255
            alpha = cv2.GaussianBlur(cv2.dilate(alpha, np.ones((3, 3), np.uint8)), (5, 5), 0).astype(np.float32) / 255
            small = cv2.resize(frame, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float32)
            a = cv2.resize(alpha, (sw, sh), interpolation=cv2.INTER_AREA)[..., None]
            out = bg.copy()
            region = out[oy : oy + sh, ox : ox + sw].astype(np.float32)
            out[oy : oy + sh, ox : ox + sw] = (small * a + region * (1 - a)).astype(np.uint8)
            self.add(out, bool(keep))
            heights += [b[3] * scale for b in keep]
            n += 1
        self._segment("far", n, sequence=seq.name, tracks=chosen, scale=scale,
                      person_height_min=round(min(heights)) if heights else None,
                      person_height_median=round(float(np.median(heights))) if heights else None)
        self.sources.append(seq.name)

    def distractor(self, path: Path, seconds: float, hold_seconds: float = 0.0) -> None:
        """A person-free clip for up to ``seconds``; with ``hold_seconds`` it stops half-way for that long
        (what is on the road then is parked: a car that drives in, stands, drives off)."""
        frames, src_fps = self._video(Path(path))
        n_play = min(round(seconds * self.fps), int(len(frames) / src_fps * self.fps))
        n = 0
        for i in range(n_play):
            frame = frames[min(len(frames) - 1, int(i * src_fps / self.fps))]
            if hold_seconds and i == n_play // 2:
                n += self._hold(frame, hold_seconds, False)
            self.add(frame, False)
            n += 1
        self._segment("parked" if hold_seconds else "distractor", n, video=Path(path).name,
                      **({"hold_seconds": hold_seconds} if hold_seconds else {}))

    def finish(self) -> dict:
        """Close the video, write ``truth.csv`` and ``scenario.json``; return the latter's document."""
        self.writer.release()
        with open(self.out_dir / "truth.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["frame", "present"])
            w.writerows((i, int(p)) for i, p in enumerate(self.presence))
        doc = {
            "video": "scenario.avi",
            "truth": "truth.csv",
            "fps": self.fps,
            "size": list(self.size),
            "frames": len(self.presence),
            "person_frames": int(sum(self.presence)),
            "segments": [s.__dict__ for s in self.segments],
            "sources": list(dict.fromkeys(self.sources)),
            "look": asdict(self.look),
        }
        (self.out_dir / "scenario.json").write_text(json.dumps(doc, indent=2))
        return doc


def build_scenario(
    seq_dirs: list[Path],
    distractors: list[Path],
    out_dir: Path,
    fps: float | None = None,
    size: tuple[int, int] | None = None,
    empty_seconds: float = 12.0,
    seed: int = 0,
    still_seconds: float = 0.0,
    far_scale: float | None = None,
    parked_seconds: float = 0.0,
    look: CameraLook = CameraLook(),
) -> dict:
    """Write ``scenario.avi``, ``truth.csv`` and ``scenario.json`` into ``out_dir``.

    Per sequence: empty, people walking through, empty, an illumination dip, a distractor clip (held for
    ``parked_seconds`` half-way if given), a second group of walkers; optionally one walker who stays
    still for ``still_seconds`` and the walkers scaled by ``far_scale`` at the far side. ``look``: how the
    camera renders it (:data:`NIGHT`: dark, flat and noisy).
    """
    seqs = [load_sequence(d) for d in tqdm(seq_dirs, desc="load sequences", unit="seq")]
    first = seqs[0]
    out = ScenarioBuilder(out_dir, size or first.frames[0].shape[1::-1], fps or first.fps, seed, look)
    for k, seq in enumerate(seqs):
        bg = estimate_background(seq)
        by_length = sorted(walking_tracks(seq), key=lambda t: -len(seq.tracks[t]))
        groups = [by_length[0::2][:3], by_length[1::2][:3]]
        out.empty(bg, empty_seconds)
        out.person(seq, bg, groups[0])
        out.empty(bg, empty_seconds)
        out.empty(bg, 8.0, "illumination", gain_dip=0.45)
        if distractors:
            out.distractor(distractors[k % len(distractors)], 8.0, parked_seconds)
            out.empty(bg, empty_seconds * 0.5)
        if groups[1]:
            out.person(seq, bg, groups[1])
            out.empty(bg, empty_seconds)
        if still_seconds:
            out.still(seq, bg, by_length[0], still_seconds)
            out.empty(bg, empty_seconds)
        if far_scale:
            out.far(seq, bg, groups[0], far_scale)
            out.empty(bg, empty_seconds)
    return out.finish()


def presence_only_truth(video: Path, out_csv: Path) -> int:
    """A person-free video's truth file (every frame absent); returns the frame count."""
    frames, _ = read_video(video)
    with open(out_csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["frame", "present"])
        w.writerows((i, 0) for i in range(len(frames)))
    return len(frames)


def _fingerprint(inputs: list[Path], params: dict, code: list[Path]) -> str:
    """A key for a build: every input file's name, size and mtime, the parameters and the building code."""
    h = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    for source in (Path(__file__), *code):
        h.update(Path(source).read_bytes())
    for path in inputs:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            st = f.stat()
            h.update(f"{f.relative_to(path.parent)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


def build_once(out: Path, inputs: list[Path], params: dict, build: Callable[[], object], code: list[Path] = ()) -> bool:
    """Run ``build`` (which writes into ``out``) unless ``out`` holds a build of the same inputs, parameters and code
    (this module's, and ``code``'s); return True if it was there already."""
    key_file = out / "inputs.sha256"
    key = _fingerprint(inputs, params, list(code))
    if key_file.exists() and key_file.read_text() == key:
        return True
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    build()
    key_file.write_text(key)  # written last: an interrupted build is rebuilt
    return False

"""Stage 6 — recorder: pre-roll ring in PSRAM, clips on the SD card, thumbnails, the storage ledger.

Every sensor JPEG enters a ring buffer holding the pre-roll (its bytes count
against PSRAM). When an event starts, the ring's frames from
``start - pre_roll`` on open a clip, and frames are appended while the event
is open. When it ends, the clip keeps frames up to ``last person + post_roll``
and is closed. The ledger compares what a continuous MJPEG recording of the
same JPEGs would have written with what was written and sent.
"""
from __future__ import annotations

import errno
import logging
import shutil
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

import contract
from camera_node.avi import MjpegAviWriter, avi_size, chunk_bytes
from camera_node.card import ClipRetention
from camera_node.config import RecorderConfig
from models.inference.preprocess import Box

logger = logging.getLogger(__name__)

#: Clip errors kept for the report (bounded: a full card on a long run would add one per event).
MAX_ERRORS_KEPT = 64


@dataclass
class _Tally:
    """The running counts behind the ledger (the node's own state; :class:`contract.Ledger` is what it reports)."""

    frames: int = 0
    continuous_frame_bytes: int = 0  # JPEG chunks (padded) of every frame: a continuous AVI's payload
    clip_bytes: int = 0
    thumbnail_bytes: int = 0
    message_bytes: int = 0
    clip_frames: int = 0
    motion_frames: int = 0


@dataclass
class ClipInfo:
    event_id: str
    path: Path | None
    first_frame: int | None
    last_frame: int | None
    bytes: int
    error: str | None = None


@dataclass
class _OpenClip:
    event_id: str
    writer: MjpegAviWriter
    first_frame: int
    frames: list[tuple[int, float]] = field(default_factory=list)  # (index, ts) written
    close_after: float | None = None


class DiskFull(OSError):
    """Not enough free space on the SD card for a clip."""


class Recorder:
    """Keeps the ring, writes clips, makes thumbnails, keeps the ledger."""

    def __init__(self, cfg: RecorderConfig, clips_dir: Path, fps: float, width: int, height: int, lookback: float) -> None:
        self.cfg = cfg
        self.clips_dir = Path(clips_dir)
        self.clips_dir.mkdir(parents=True, exist_ok=True)
        self.fps, self.width, self.height = fps, width, height
        self.ring_seconds = cfg.pre_roll + lookback
        self.ring: deque[tuple[int, float, bytes]] = deque()
        self.ring_bytes = 0
        self.peak_ring_bytes = 0
        self.max_jpeg_bytes = 0
        self.sd_bytes_written = 0
        self.clip: _OpenClip | None = None
        self.retention = ClipRetention(self.clips_dir, cfg.card_max_share)
        self._tally = _Tally()
        self.errors: deque[str] = deque(maxlen=MAX_ERRORS_KEPT)

    @property
    def ledger(self) -> contract.Ledger:
        """The storage ledger so far; a continuous MJPEG AVI of every frame is exactly what the writer would produce."""
        t = self._tally
        return contract.Ledger(
            frames=t.frames, seconds=t.frames / self.fps, continuous_bytes=avi_size(t.continuous_frame_bytes, t.frames) if t.frames else 0,
            clip_bytes=t.clip_bytes, thumbnail_bytes=t.thumbnail_bytes, message_bytes=t.message_bytes,
            clip_seconds=t.clip_frames / self.fps, motion_seconds=t.motion_frames / self.fps,
        )

    def count_sent(self, nbytes: int) -> None:
        """Add bytes the node put on the wire (messages) to the ledger."""
        self._tally.message_bytes += nbytes

    def count_motion(self, moving: bool) -> None:
        """Note whether the motion stage saw motion in the latest frame (a recorder on motion would keep it)."""
        self._tally.motion_frames += moving

    # -- every frame ----------------------------------------------------
    def push(self, index: int, ts: float, jpeg: bytes) -> list[ClipInfo]:
        """Add a frame; returns clips that finished with it."""
        self._tally.frames += 1
        self._tally.continuous_frame_bytes += len(jpeg) + (len(jpeg) & 1)
        self.max_jpeg_bytes = max(self.max_jpeg_bytes, len(jpeg))
        self.ring.append((index, ts, jpeg))
        self.ring_bytes += len(jpeg)
        while self.ring and self.ring[0][1] < ts - self.ring_seconds:
            self.ring_bytes -= len(self.ring.popleft()[2])
        self.peak_ring_bytes = max(self.peak_ring_bytes, self.ring_bytes)
        done: list[ClipInfo] = []
        if self.clip is not None:
            if self.clip.close_after is not None and ts > self.clip.close_after:
                done.append(self._finish())
            elif (cut := self._write(index, ts, jpeg)) is not None:
                done.append(cut)
        return done

    # -- events ---------------------------------------------------------
    def start(self, event_id: str, start_time: float) -> list[ClipInfo]:
        """Open a clip with the ring's frames from ``start_time - pre_roll``; returns a clip it had to finish."""
        done = [self._finish()] if self.clip is not None else []
        frames = [f for f in self.ring if f[1] >= start_time - self.cfg.pre_roll]
        path = self.clips_dir / f"{event_id}.avi"
        self.retention.new_clip()
        try:
            free = shutil.disk_usage(self.clips_dir).free
            if free < self.cfg.min_free_bytes:
                raise DiskFull(errno.ENOSPC, f"SD card has {free} B free, below min_free_bytes {self.cfg.min_free_bytes}")
            writer = MjpegAviWriter(path, self.width, self.height, self.fps)
        except OSError as exc:
            self._error(event_id, exc)
            done.append(ClipInfo(event_id, None, None, None, 0, str(exc)))
            return done
        self.clip = _OpenClip(event_id, writer, frames[0][0] if frames else -1)
        for index, ts, jpeg in frames:
            if (cut := self._write(index, ts, jpeg)) is not None:
                done.append(cut)
                break
        return done

    def end(self, event_id: str, last_seen: float) -> list[ClipInfo]:
        """The event ended: keep recording until ``last_seen + post_roll``, then finish."""
        if self.clip is None or self.clip.event_id != event_id:
            return []
        self.clip.close_after = last_seen + self.cfg.post_roll
        if self.clip.frames and self.clip.frames[-1][1] >= self.clip.close_after:
            return [self._finish()]
        return []

    def flush(self) -> list[ClipInfo]:
        """Finish any open clip (end of stream)."""
        return [self._finish()] if self.clip is not None else []

    # -- thumbnails -----------------------------------------------------
    def thumbnail(self, jpeg: bytes, box: Box) -> bytes:
        """A small JPEG around the person (box in sensor-frame pixels, 1.5x margin)."""
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError("best frame does not decode")
        h, w = image.shape[:2]
        side_w, side_h = box.w * 1.5, box.h * 1.5
        x0, y0 = int(max(0, box.cx - side_w / 2)), int(max(0, box.cy - side_h / 2))
        x1, y1 = int(min(w, box.cx + side_w / 2)), int(min(h, box.cy + side_h / 2))
        crop = image[y0:y1, x0:x1] if x1 > x0 and y1 > y0 else image
        scale = self.cfg.thumbnail_size / max(crop.shape[:2])
        if scale < 1:
            crop = cv2.resize(crop, (max(1, int(crop.shape[1] * scale)), max(1, int(crop.shape[0] * scale))), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, self.cfg.thumbnail_quality])
        if not ok:
            raise ValueError("thumbnail does not encode")
        data = buf.tobytes()
        self._tally.thumbnail_bytes += len(data)
        return data

    # -- internals ------------------------------------------------------
    def _write(self, index: int, ts: float, jpeg: bytes) -> ClipInfo | None:
        """Append a frame to the open clip; returns the clip if it ended here: the card's cap, or a failed write
        (the partial file is dropped, the clip given up, the error said)."""
        clip = self.clip
        if clip.frames and index <= clip.frames[-1][0]:
            return None
        if not self.retention.make_room(chunk_bytes(len(jpeg))):
            self._note(f"clip for {clip.event_id} ended early: the card is at its cap ({self.cfg.card_max_share:.0%}) "
                       "with no older clip left to delete")
            return self._finish()
        try:
            clip.writer.write(jpeg)
        except OSError as exc:
            self._error(clip.event_id, exc)
            clip.writer.abort()
            self.clip = None
            return ClipInfo(clip.event_id, None, None, None, 0, str(exc))
        self.sd_bytes_written += chunk_bytes(len(jpeg))
        clip.frames.append((index, ts))
        return None

    def _finish(self) -> ClipInfo:
        clip, self.clip = self.clip, None
        keep = len(clip.frames)
        if clip.close_after is not None:
            keep = sum(1 for _, ts in clip.frames if ts <= clip.close_after)
        try:
            size = clip.writer.close(keep)
        except OSError as exc:
            self._error(clip.event_id, exc)
            clip.writer.abort()
            return ClipInfo(clip.event_id, None, None, None, 0, str(exc))
        self._tally.clip_bytes += size
        self._tally.clip_frames += keep
        self.retention.add(clip.writer.path)
        kept = clip.frames[:keep]
        return ClipInfo(clip.event_id, clip.writer.path, kept[0][0] if kept else None, kept[-1][0] if kept else None, size)

    def _error(self, event_id: str, exc: OSError) -> None:
        self._note(f"clip for {event_id} not recorded: {exc}")

    def _note(self, message: str) -> None:
        logger.error("%s", message)
        self.errors.append(message)

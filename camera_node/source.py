"""Stage 1 — frame source: a video file, an image folder, a camera index or an RTSP/HTTP URL."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
DEFAULT_FPS = 10.0


@dataclass
class Frame:
    """One captured frame: 0-based index, capture time (unix seconds: what messages carry), BGR pixels, and the
    time on a steady clock (what the node times gaps, memories and budgets by: NTP may step the wall clock)."""

    index: int
    timestamp: float
    image: np.ndarray
    clock: float


class SourceError(RuntimeError):
    """The source cannot be opened, or a file ended before the frames it states."""


MAX_RECONNECT_DELAY = 30.0


class FrameSource:
    """Iterate frames of ``uri``.

    Files and folders get timestamps ``start_time + index / fps`` (a
    simulated clock, so results do not depend on host speed) on both clocks; live sources
    are stamped with the wall clock and the steady one. ``realtime`` paces file playback at fps.
    A live source (camera, RTSP/HTTP stream) that stops delivering frames is
    reopened with backoff (``reconnect_delay`` doubling up to 30 s) until
    :meth:`stop`; frame indices carry on. ``reconnect_delay=None`` ends the
    iteration there instead.
    """

    def __init__(self, uri: str, fps: float | None = None, realtime: bool = False, start_time: float | None = None,
                 reconnect_delay: float | None = 1.0) -> None:
        self.uri = uri
        self.realtime = realtime
        self.reconnect_delay = reconnect_delay
        self.reconnects = 0
        self.skipped = 0  # unreadable images in a folder
        self.delivered = 0  # frames handed out so far
        self._stopped = False
        path = Path(uri)
        self.live = not path.exists()
        self._folder = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if path.is_dir() else None
        if self._folder is not None:
            if not self._folder:
                raise SourceError(f"no images in folder {uri}")
            self._cap = None
            self.fps = fps or DEFAULT_FPS
        else:
            target: int | str = int(uri) if uri.isdigit() else uri
            if self.live and isinstance(target, str) and "://" not in target:
                raise SourceError(f"no such file, folder or URL: {uri}")
            self._target = target
            self._cap = cv2.VideoCapture(target)
            if not self._cap.isOpened():
                raise SourceError(f"cannot open source {uri}")
            self.fps = fps or self._cap.get(cv2.CAP_PROP_FPS) or DEFAULT_FPS
        if self._folder is not None:
            self._count: int | None = len(self._folder)
        else:
            self._count = None if self.live else int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        self.start_time = time.time() if start_time is None else start_time

    def stop(self) -> None:
        """End the iteration after the current frame (a live source is not reopened any more)."""
        self._stopped = True

    @property
    def frame_count(self) -> int | None:
        """Frames in a file or folder, if known."""
        return self._count

    def truncated(self) -> bool:
        """A file that stopped decoding well before the frames its header states (a cut-off recording); a
        container's count may be a frame or 1% off without anything missing."""
        if self.live or self._folder is not None or self._count is None or self._stopped:
            return False
        return self.delivered < self._count - max(2, round(0.01 * self._count))

    def __iter__(self) -> Iterator[Frame]:
        started = time.monotonic()
        for index, image in self._images():
            ts = time.time() if self.live else self.start_time + index / self.fps
            clock = time.monotonic() if self.live else ts
            if self.realtime and not self.live:
                delay = index / self.fps - (time.monotonic() - started)
                if delay > 0:
                    time.sleep(delay)
            self.delivered += 1
            yield Frame(index, ts, image, clock)

    def _images(self) -> Iterator[tuple[int, np.ndarray]]:
        if self._folder is not None:
            for index, path in enumerate(self._folder):
                if self._stopped:
                    return
                image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if image is None:
                    self.skipped += 1
                    logger.warning("skipping unreadable image %s", path)
                    continue
                yield index, image
            return
        index, delay = 0, self.reconnect_delay
        try:
            while not self._stopped:
                ok, image = self._cap.read()
                if ok:
                    yield index, image
                    index, delay = index + 1, self.reconnect_delay
                elif self.live and delay is not None:
                    self._reopen(delay)
                    delay = min(2 * delay, MAX_RECONNECT_DELAY)
                else:
                    break
        finally:
            self._cap.release()

    def _reopen(self, delay: float) -> None:
        logger.warning("live source %s delivers no frames; reopening in %.0f s", self.uri, delay)
        self._cap.release()
        deadline = time.monotonic() + delay
        while not self._stopped and time.monotonic() < deadline:
            time.sleep(min(0.1, delay))
        self._cap = cv2.VideoCapture(self._target)
        self.reconnects += 1

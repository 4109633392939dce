"""The SD card's clip retention: keep the card below a share of its size, oldest clips first, never the open one.

The card's use is the filesystem's (``statvfs``: every file on it, the store-and-forward queue included,
in whole allocation units), so the cap holds whatever else the card holds. Before each frame is written
to a clip the recorder asks :meth:`ClipRetention.make_room` for its bytes; finished clips are deleted
oldest first until they fit. When only the open clip is left and it still does not fit, the answer is no
and the recorder ends that clip early rather than fill the card.
"""
from __future__ import annotations

import logging
import os
import shutil
from collections import deque
from pathlib import Path

import contract

logger = logging.getLogger(__name__)


class ClipRetention:
    """The finished clips on the card, oldest first, and the cap they are kept under."""

    def __init__(self, clips_dir: Path, max_share: float) -> None:
        self.clips_dir = Path(clips_dir)
        self.max_share = max_share
        # Clips an earlier boot left count too; a card holds a bounded number of files, so the deque is bounded by it.
        self._clips: deque[Path] = deque(sorted(self.clips_dir.glob("*.avi"), key=lambda p: p.stat().st_mtime_ns))
        self.deleted = 0
        self.deleted_bytes = 0

    def _usage(self) -> tuple[int, int, int]:
        """(used, total, limit) bytes of the card."""
        usage = shutil.disk_usage(self.clips_dir)
        return usage.used, usage.total, int(usage.total * self.max_share)

    def make_room(self, nbytes: int) -> bool:
        """Delete finished clips, oldest first, until ``nbytes`` more fit under the cap; return whether they do.
        The open clip is not among them: a clip is added only once finished."""
        used, _, limit = self._usage()
        while used + nbytes > limit and self._clips:
            self._delete(self._clips.popleft())
            used, _, limit = self._usage()
        return used + nbytes <= limit

    def add(self, path: Path) -> None:
        """A clip was finished: it may go once newer clips need the room."""
        self._clips.append(Path(path))

    def mark_fetched(self, path: Path) -> None:
        """The gateway holds this clip now: it goes first when the card needs room."""
        try:
            self._clips.remove(Path(path))
        except ValueError:
            return
        self._clips.appendleft(Path(path))

    def _delete(self, path: Path) -> None:
        try:
            size = os.stat(path).st_blocks * 512
            path.unlink()
        except FileNotFoundError:
            return
        self.deleted += 1
        self.deleted_bytes += size
        logger.info("card above %.0f%%: deleted the oldest clip %s (%d B)", 100 * self.max_share, path.name, size)

    def use(self) -> contract.CardUse:
        """The card's use now, for the node's stats."""
        used, total, limit = self._usage()
        return contract.CardUse(used_bytes=used, total_bytes=total, limit_bytes=limit, clips=len(self._clips),
                                clips_deleted=self.deleted)

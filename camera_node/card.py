"""The SD card's clip retention: keep the card below a share of its size, oldest clips first, never the open one.

The card's use is the filesystem's (``statvfs``: every file on it, the store-and-forward queue included,
in whole allocation units), so the cap holds whatever else the card holds. Before each frame is written
to a clip the recorder asks :meth:`ClipRetention.make_room` for its bytes; finished clips are deleted
oldest first until they fit. Within one clip the card is asked for its free space only when the room it
reported last (less one allocation unit of slack: the one file grows) is used up — on an ESP32 that query
walks the FAT, so not once a frame; each new clip asks afresh. When only the open clip is left and it still does not fit, the answer is no
and the recorder ends that clip early rather than fill the card.
"""
from __future__ import annotations

import logging
import os
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
        self._room = 0  # bytes known to fit under the cap without asking the card again

    def _usage(self) -> tuple[int, int, int, int]:
        """(used, total, limit, allocation unit) bytes of the card."""
        st = os.statvfs(self.clips_dir)
        total, used = st.f_blocks * st.f_frsize, (st.f_blocks - st.f_bfree) * st.f_frsize
        return used, total, int(total * self.max_share), st.f_frsize

    def make_room(self, nbytes: int) -> bool:
        """Delete finished clips, oldest first, until ``nbytes`` more fit under the cap; return whether they do.
        The open clip is not among them: a clip is added only once finished."""
        if nbytes <= self._room:
            self._room -= nbytes
            return True
        used, _, limit, unit = self._usage()
        while used + unit + nbytes > limit and self._clips:
            if not self._delete(self._clips[0]):
                break  # the card will not delete (read-only): no room
            self._clips.popleft()
            used, _, limit, unit = self._usage()
        self._room = max(0, limit - used - unit - nbytes)
        return used + unit + nbytes <= limit

    def add(self, path: Path) -> None:
        """A clip was finished: it may go once newer clips need the room."""
        self._clips.append(Path(path))

    def new_clip(self) -> None:
        """A clip file is being started: the next :meth:`make_room` asks the card afresh (a new file takes its own units)."""
        self._room = 0

    def mark_fetched(self, path: Path) -> None:
        """The gateway holds this clip now: it goes first when the card needs room."""
        try:
            self._clips.remove(Path(path))
        except ValueError:
            return
        self._clips.appendleft(Path(path))

    def _delete(self, path: Path) -> bool:
        """Delete a finished clip; whether it is gone (already gone counts; a card that refuses, read-only, not)."""
        try:
            size = os.stat(path).st_blocks * 512
            path.unlink()
        except FileNotFoundError:
            return True
        except OSError as exc:
            logger.error("cannot delete the oldest clip %s to make room: %s", path.name, exc)
            return False
        self.deleted += 1
        self.deleted_bytes += size
        logger.info("card above %.0f%%: deleted the oldest clip %s (%d B)", 100 * self.max_share, path.name, size)
        return True

    def use(self) -> contract.CardUse:
        """The card's use now, for the node's stats."""
        used, total, limit, _ = self._usage()
        return contract.CardUse(used_bytes=used, total_bytes=total, limit_bytes=limit, clips=len(self._clips),
                                clips_deleted=self.deleted)

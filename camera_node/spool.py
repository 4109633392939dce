"""On-disk store-and-forward queue with a byte cap.

Each message is one file, written atomically (temp file, fsync, rename),
named by a sequence number so order survives a restart. The cap counts what
the card spends, not payload bytes: a file takes whole allocation units (a
FAT cluster of 4-64 KB on an SD card), so a 200-byte stats message costs a
cluster. Past the cap the oldest messages are dropped and counted, so a long
broker outage neither loses recent events nor runs the node out of storage.
Messages the card refuses (full, read-only, failing: the commonest ESP32-CAM
fault) wait in memory behind those on it, up to :data:`MAX_HELD_BYTES`, so
a broken card does not silence the alerts (they do not survive a reboot).
"""
from __future__ import annotations

import contextlib
import itertools
import logging
import os
import struct
import threading
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

#: Bytes of messages the card refused that wait in memory (PSRAM the node can spare); beyond, the oldest go.
MAX_HELD_BYTES = 256 * 1024

_MAGIC = b"SCQ1"
_HEAD = struct.Struct("<4sBBH")


@dataclass(frozen=True)
class QueuedMessage:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False

    def encode(self) -> bytes:
        topic = self.topic.encode()
        return _HEAD.pack(_MAGIC, self.qos, int(self.retain), len(topic)) + topic + self.payload

    @classmethod
    def decode(cls, data: bytes) -> QueuedMessage:
        magic, qos, retain, n = _HEAD.unpack_from(data)
        if magic != _MAGIC:
            raise ValueError("not a queued message")
        start = _HEAD.size
        return cls(data[start : start + n].decode(), data[start + n :], qos, bool(retain))


class Spool:
    """FIFO of :class:`QueuedMessage` files in ``directory``, taking at most ``max_bytes`` of the card
    (``bytes``: what the queued files take now, allocation units included), then of the messages the card
    refused, held in memory. :meth:`peek` names the oldest by a key (a file's path, or a token) for :meth:`ack`."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.dropped = 0
        self._lock = threading.Lock()
        for tmp in self.dir.glob("*.tmp"):
            tmp.unlink()
        self._files = sorted(self.dir.glob("*.msg"))
        self.unit = os.statvfs(self.dir).f_frsize or 512  # the filesystem's allocation unit (a FAT cluster)
        self._sizes = {p: _spent(p.stat()) for p in self._files}  # what each file costs the card
        self.bytes = sum(self._sizes.values())
        self._next = int(self._files[-1].stem) + 1 if self._files else 0
        self._held: deque[tuple[int, QueuedMessage, int]] = deque()  # (token, message, its size) the card refused
        self._held_bytes = 0
        self._tokens = itertools.count()
        self._refused = False  # the card refused the last write (logged once until it takes one again)

    def __len__(self) -> int:
        return len(self._files) + len(self._held)

    def put(self, message: QueuedMessage) -> None:
        """Append durably and evict the oldest beyond the cap; hold it in memory if the card refuses it."""
        data = message.encode()
        cost = -(-len(data) // self.unit) * self.unit  # whole allocation units
        with self._lock:
            if cost > self.max_bytes:
                self.dropped += 1
                logger.error("message on %s (%d B, %d B in %d B units on the card) is larger than the whole queue; dropped",
                             message.topic, len(data), cost, self.unit)
                return
            if self._held:  # nothing goes to the card ahead of what waits in memory
                self._hold(message, len(data))
                return
            path = self.dir / f"{self._next:016d}.msg"
            tmp = path.with_suffix(".tmp")
            try:
                with open(tmp, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                    spent = _spent(os.fstat(f.fileno()))
                os.replace(tmp, path)
                _fsync_dir(self.dir)  # the rename itself survives a power cut
            except OSError as exc:
                with contextlib.suppress(OSError):
                    tmp.unlink(missing_ok=True)
                if not self._refused:
                    logger.error("the card refuses the queue's writes (%s): holding messages in memory", exc)
                    self._refused = True
                self._hold(message, len(data))
                return
            if self._refused:
                logger.info("the card takes the queue's writes again")
                self._refused = False
            self._next += 1
            self._files.append(path)
            self._sizes[path] = spent
            self.bytes += spent
            while self.bytes > self.max_bytes and len(self._files) > 1:
                oldest = self._files[0]
                self._forget(oldest)
                self.dropped += 1
                logger.warning("queue over %d B: dropped oldest message %s", self.max_bytes, oldest.name)

    def peek(self) -> tuple[Hashable, QueuedMessage] | None:
        """The oldest message and its key (still queued until :meth:`ack`)."""
        with self._lock:
            while self._files:
                path = self._files[0]
                try:
                    return path, QueuedMessage.decode(path.read_bytes())
                except (OSError, ValueError, struct.error) as exc:
                    logger.error("discarding unreadable queue file %s: %s", path.name, exc)
                    self._forget(path)
                    self.dropped += 1
            if self._held:
                token, message, _ = self._held[0]
                return token, message
            return None

    def ack(self, key: Hashable) -> None:
        """Remove a delivered message (by the key :meth:`peek` gave)."""
        with self._lock:
            if self._files and self._files[0] == key:
                self._forget(key)
            elif not self._files and self._held and self._held[0][0] == key:
                self._held_bytes -= self._held.popleft()[2]

    def discard_topic(self, topic: str) -> int:
        """Remove every queued message on ``topic`` (superseded state, e.g. a previous boot's availability);
        return how many."""
        with self._lock:
            stale = []
            for path in self._files:
                try:
                    if QueuedMessage.decode(path.read_bytes()).topic == topic:
                        stale.append(path)
                except (OSError, ValueError, struct.error):
                    continue  # peek discards and counts it in its turn
            for path in stale:
                self._forget(path)
            held = [h for h in self._held if h[1].topic != topic]
            stale_held = len(self._held) - len(held)
            self._held = deque(held)
            self._held_bytes = sum(h[2] for h in held)
        return len(stale) + stale_held

    def _hold(self, message: QueuedMessage, size: int) -> None:
        """Keep a message the card refused in memory, behind the others; the oldest go beyond the bound (lock held)."""
        self._held.append((next(self._tokens), message, size))
        self._held_bytes += size
        while self._held_bytes > MAX_HELD_BYTES and len(self._held) > 1:
            self._held_bytes -= self._held.popleft()[2]
            self.dropped += 1

    def _forget(self, path: Path) -> None:
        """Take a file off the queue and the disk (lock held); one already gone is no error, nor one the card
        will not delete (read-only: it is sent again after a reboot, as QoS 1 allows)."""
        self._files.remove(path)
        self.bytes -= self._sizes.pop(path, 0)
        try:
            path.unlink()
        except FileNotFoundError:
            logger.warning("queue file %s was already gone", path.name)
        except OSError as exc:
            logger.error("queue file %s cannot be deleted (%s); it will be sent again after a restart", path.name, exc)


def _spent(st: os.stat_result) -> int:
    """Bytes a file takes on its filesystem: its allocated blocks (whole clusters on FAT), at least its size."""
    return max(st.st_size, st.st_blocks * 512)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

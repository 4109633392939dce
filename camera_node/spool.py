"""On-disk store-and-forward queue with a byte cap.

Each message is one file, written atomically (temp file, fsync, rename),
named by a sequence number so order survives a restart. Past the cap the
oldest messages are dropped and counted, so a long broker outage neither
loses recent events nor runs the node out of storage.
"""
from __future__ import annotations

import logging
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

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
    """FIFO of :class:`QueuedMessage` files in ``directory``, at most ``max_bytes`` on disk."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.dropped = 0
        self._lock = threading.Lock()
        for tmp in self.dir.glob("*.tmp"):
            tmp.unlink()
        self._files = sorted(self.dir.glob("*.msg"))
        self.bytes = sum(p.stat().st_size for p in self._files)
        self._next = int(self._files[-1].stem) + 1 if self._files else 0

    def __len__(self) -> int:
        return len(self._files)

    def put(self, message: QueuedMessage) -> None:
        """Append durably; evict the oldest beyond the cap (raises ``OSError`` if the disk is full)."""
        data = message.encode()
        if len(data) > self.max_bytes:
            self.dropped += 1
            logger.error("message on %s (%d B) is larger than the whole queue; dropped", message.topic, len(data))
            return
        with self._lock:
            path = self.dir / f"{self._next:016d}.msg"
            tmp = path.with_suffix(".tmp")
            try:
                with open(tmp, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)
            except OSError:
                tmp.unlink(missing_ok=True)
                raise
            self._next += 1
            self._files.append(path)
            self.bytes += len(data)
            while self.bytes > self.max_bytes and len(self._files) > 1:
                oldest = self._files.pop(0)
                self.bytes -= oldest.stat().st_size
                oldest.unlink()
                self.dropped += 1
                logger.warning("queue over %d B: dropped oldest message %s", self.max_bytes, oldest.name)

    def peek(self) -> tuple[Path, QueuedMessage] | None:
        """The oldest message (still queued until :meth:`ack`)."""
        with self._lock:
            while self._files:
                path = self._files[0]
                try:
                    return path, QueuedMessage.decode(path.read_bytes())
                except (OSError, ValueError, struct.error) as exc:
                    logger.error("discarding unreadable queue file %s: %s", path.name, exc)
                    self._files.pop(0)
                    path.unlink(missing_ok=True)
                    self.dropped += 1
            return None

    def ack(self, path: Path) -> None:
        """Remove a delivered message."""
        with self._lock:
            if self._files and self._files[0] == path:
                self._files.pop(0)
                self.bytes -= path.stat().st_size
                path.unlink()

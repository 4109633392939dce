"""A streaming MJPEG AVI writer that stores the sensor's JPEGs as they are.

Like ESP32 firmware, it does not re-encode: each JPEG becomes a ``00dc``
chunk. The header is patched and the ``idx1`` index written on close; a
clip can be cut back to its first ``n`` frames on close (the tail recorded
while waiting to see if the person returns).
"""
from __future__ import annotations

import os
import struct
from pathlib import Path

_AVIF_HASINDEX = 0x10
_AVIIF_KEYFRAME = 0x10
#: Bytes before the first frame chunk: RIFF + hdrl (avih, strl/strh/strf) + movi list header.
HEADER_BYTES = 12 + (12 + 8 + 56 + 12 + 8 + 56 + 8 + 40) + 12


def chunk_bytes(jpeg_len: int) -> int:
    """Bytes one frame adds to the file: chunk header, data, pad, index entry."""
    return 8 + jpeg_len + (jpeg_len & 1) + 16


def avi_size(jpeg_sizes: list[int] | int, frames: int | None = None) -> int:
    """Exact file size of an AVI holding frames of these JPEG sizes (or a total and a count)."""
    if isinstance(jpeg_sizes, int):
        return HEADER_BYTES + 8 + jpeg_sizes + (frames or 0) * 24  # pad ignored for totals
    return HEADER_BYTES + 8 + sum(chunk_bytes(n) for n in jpeg_sizes)


class MjpegAviWriter:
    """Append JPEG frames to ``path``; :meth:`close` finishes the file."""

    def __init__(self, path: Path, width: int, height: int, fps: float) -> None:
        self.path = Path(path)
        self.width, self.height, self.fps = width, height, fps
        self._chunks: list[tuple[int, int]] = []  # (offset from 'movi' fourcc, size)
        self._f = open(self.path, "wb")  # noqa: SIM115 - held until close() finishes the index
        try:
            self._f.write(self._header(0, 0))
        except OSError:
            self._abort()
            raise
        self._movi_pos = HEADER_BYTES - 4  # offset of the 'movi' fourcc

    @property
    def frames(self) -> int:
        return len(self._chunks)

    def write(self, jpeg: bytes) -> None:
        """Append one frame (raises ``OSError``, e.g. ENOSPC, leaving the file closable)."""
        offset = self._f.tell() - self._movi_pos
        pad = b"\0" if len(jpeg) & 1 else b""
        self._f.write(b"00dc" + struct.pack("<I", len(jpeg)) + jpeg + pad)
        self._chunks.append((offset, len(jpeg)))

    def close(self, keep: int | None = None) -> int:
        """Keep the first ``keep`` frames (default all), write index and header, fsync; return file size."""
        keep = len(self._chunks) if keep is None else max(0, min(keep, len(self._chunks)))
        chunks = self._chunks[:keep]
        end = self._movi_pos + (chunks[-1][0] + 8 + chunks[-1][1] + (chunks[-1][1] & 1) if chunks else 4)
        self._f.seek(end)
        self._f.truncate()
        self._f.write(b"idx1" + struct.pack("<I", 16 * len(chunks)))
        self._f.write(b"".join(struct.pack("<4sIII", b"00dc", _AVIIF_KEYFRAME, off, size) for off, size in chunks))
        size = self._f.tell()
        movi_size = end - (self._movi_pos - 4)  # LIST payload: from 'movi' fourcc to end of last chunk
        self._f.seek(0)
        self._f.write(self._header(len(chunks), max((s for _, s in chunks), default=0), riff_size=size - 8, movi_size=movi_size))
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        return size

    def _abort(self) -> None:
        try:
            self._f.close()  # flushing may fail again on a full disk
        except OSError:
            pass
        self.path.unlink(missing_ok=True)

    def abort(self) -> None:
        """Drop the partial file (e.g. after a write failed)."""
        self._abort()

    def _header(self, frames: int, max_chunk: int, riff_size: int = 0, movi_size: int = 4) -> bytes:
        w, h = self.width, self.height
        rate, scale = round(self.fps * 1000), 1000
        avih = struct.pack("<IIIIIIIIII4I", int(1e6 / self.fps), max_chunk * int(self.fps + 1), 0, _AVIF_HASINDEX, frames, 0, 1, max_chunk, w, h, 0, 0, 0, 0)
        strh = struct.pack("<4s4sIHHIIIIIIIIhhhh", b"vids", b"MJPG", 0, 0, 0, 0, scale, rate, 0, frames, max_chunk, 0xFFFFFFFF, 0, 0, 0, w, h)
        strf = struct.pack("<IiiHH4sIiiII", 40, w, h, 1, 24, b"MJPG", w * h * 3, 0, 0, 0, 0)
        strl = b"strl" + b"strh" + struct.pack("<I", 56) + strh + b"strf" + struct.pack("<I", 40) + strf
        hdrl = b"hdrl" + b"avih" + struct.pack("<I", 56) + avih + b"LIST" + struct.pack("<I", len(strl)) + strl
        return (
            b"RIFF" + struct.pack("<I", riff_size) + b"AVI "
            + b"LIST" + struct.pack("<I", len(hdrl)) + hdrl
            + b"LIST" + struct.pack("<I", movi_size) + b"movi"
        )

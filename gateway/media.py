"""Content-addressed thumbnail files, written atomically (temp file, fsync, rename)."""
from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

from PIL import Image


class BadImage(ValueError):
    """A payload that is not an acceptable JPEG."""


def check_jpeg(data: bytes, max_bytes: int, max_pixels: int) -> tuple[int, int]:
    """Raise :class:`BadImage` unless ``data`` is a JPEG within the limits; return its size."""
    if len(data) > max_bytes:
        raise BadImage(f"thumbnail of {len(data)} B exceeds {max_bytes} B")
    if not data.startswith(b"\xff\xd8"):
        raise BadImage("thumbnail is not a JPEG (no SOI marker)")
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != "JPEG":
                raise BadImage(f"thumbnail is {img.format}, not JPEG")
            w, h = img.size
            if w * h > max_pixels:
                raise BadImage(f"thumbnail of {w}x{h} px exceeds {max_pixels} px")
            img.load()  # decode fully: truncated or corrupt data raises here
    except BadImage:
        raise
    except Exception as exc:  # Pillow raises many types for broken images
        raise BadImage(f"thumbnail does not decode: {exc}") from exc
    return w, h


class MediaStore:
    """Files under ``root/ab/<sha256>.jpg`` (thumbnails) and ``root/ab/<sha256>.mp4`` (clips)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def relative_path(self, sha: str, suffix: str = ".jpg") -> str:
        return f"{sha[:2]}/{sha}{suffix}"

    def path(self, relative: str) -> Path:
        resolved = (self.root / relative).resolve()
        if self.root.resolve() not in resolved.parents:
            raise ValueError(f"path {relative!r} escapes the media folder")
        return resolved

    def put(self, data: bytes, suffix: str = ".jpg") -> tuple[str, str]:
        """Store ``data`` durably; return (sha256, relative path). Idempotent."""
        sha = hashlib.sha256(data).hexdigest()
        relative = self.relative_path(sha, suffix)
        final = self.root / relative
        if final.exists():
            return sha, relative
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{sha}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
            dir_fd = os.open(final.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        finally:
            tmp.unlink(missing_ok=True)
        return sha, relative

    def remove(self, relative: str) -> None:
        self.path(relative).unlink(missing_ok=True)

    def files(self, older_than: float = 0.0) -> list[str]:
        """Relative paths of stored files (and stale temp files) older than ``older_than`` seconds."""
        cutoff = time.time() - older_than
        return [str(p.relative_to(self.root)) for p in self.root.glob("*/*") if p.is_file() and p.stat().st_mtime < cutoff]

"""A node's MJPEG clip as browser-playable video: H.264 in MP4 (PyAV, the FFmpeg libraries).

Browsers do not play MJPEG AVI in a ``<video>`` element; H.264 in MP4 plays in every one of them (Debian's
Chromium included), seeks, reports a duration, and is several times smaller than the MJPEG it came from.
The moov atom goes first (``faststart``) so playback starts before the file is loaded.
"""
from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av

logger = logging.getLogger(__name__)


class BadClip(ValueError):
    """A clip that does not decode as video."""


def transcode_to_mp4(src: Path, dst: Path, crf: int = 28) -> int:
    """Write ``src`` (any video FFmpeg reads) to ``dst`` as H.264 MP4 at the source's frame rate; returns the frames."""
    try:
        with av.open(str(src)) as inp:
            stream = inp.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or Fraction(10)
            frames = 0
            with av.open(str(dst), "w", format="mp4", options={"movflags": "+faststart"}) as out:
                video = out.add_stream("libx264", rate=rate, options={"crf": str(crf), "preset": "veryfast"})
                video.pix_fmt = "yuv420p"
                for frame in inp.decode(stream):
                    if frames == 0:
                        video.width, video.height = frame.width // 2 * 2, frame.height // 2 * 2
                    for packet in video.encode(frame.reformat(video.width, video.height, "yuv420p")):
                        out.mux(packet)
                    frames += 1
                for packet in video.encode():
                    out.mux(packet)
    except (av.FFmpegError, IndexError) as exc:
        dst.unlink(missing_ok=True)
        raise BadClip(f"{src.name} does not decode as video: {exc}") from exc
    if frames == 0:
        dst.unlink(missing_ok=True)
        raise BadClip(f"{src.name} holds no frame")
    return frames

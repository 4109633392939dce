"""Stage 2 — sensor emulation: the frame as the OV2640 delivers it, a JPEG.

The ESP32 never sees raw pixels: the sensor's JPEG is decoded at a reduced
scale with libjpeg's DCT scaling (1/2, 1/4, 1/8), which is what OpenCV's
``IMREAD_REDUCED_GRAYSCALE_N`` does. Motion uses a tiny decode every frame;
person crops use a larger decode only on frames that need the CNN. Each
decode is counted, with the pixels it produced.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import cv2
import numpy as np

logger = logging.getLogger(__name__)

#: A source whose aspect ratio differs from the sensor's by more than this share is said to be stretched (once).
STRETCH_SAID = 0.02
_REDUCED = {1: cv2.IMREAD_GRAYSCALE, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4, 8: cv2.IMREAD_REDUCED_GRAYSCALE_8}


class CorruptFrame(ValueError):
    """A JPEG that does not decode."""


@dataclass
class DecodeCounters:
    """Decodes and decoded pixels per scale (what the MCU would have to do)."""

    decodes: Counter = field(default_factory=Counter)
    pixels: Counter = field(default_factory=Counter)


class Sensor:
    """Encode frames like the OV2640 and decode them like the ESP32."""

    def __init__(self, width: int, height: int, jpeg_quality: int) -> None:
        self.width, self.height, self.quality = width, height, jpeg_quality
        self.counters = DecodeCounters()
        self._stretch_said = False

    def capture(self, bgr: np.ndarray) -> bytes:
        """The sensor's JPEG of a BGR frame at the configured frame size."""
        if bgr.shape[1] != self.width or bgr.shape[0] != self.height:
            h, w = bgr.shape[:2]
            if not self._stretch_said and abs(w * self.height - h * self.width) > STRETCH_SAID * h * self.width:
                self._stretch_said = True
                logger.warning("the source's %dx%d frames are stretched to the sensor's %dx%d (people come out wider or "
                               "narrower than the model and the rules know them): set sensor.width/height to the "
                               "source's shape, e.g. %dx%d", w, h, self.width, self.height, self.width,
                               round(self.width * h / w))
            # The sensor scales in hardware; bilinear is close to that and ~10x cheaper than INTER_AREA here.
            bgr = cv2.resize(bgr, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise CorruptFrame("JPEG encoding failed")
        return buf.tobytes()

    def decode_gray(self, jpeg: bytes, scale: int) -> np.ndarray:
        """Grayscale decode at 1/``scale`` (DCT scaling); raise :class:`CorruptFrame`."""
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), _REDUCED[scale])
        if image is None:
            raise CorruptFrame(f"JPEG of {len(jpeg)} B does not decode")
        self.counters.decodes[scale] += 1
        self.counters.pixels[scale] += image.size
        return image

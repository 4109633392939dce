"""YOLO txt datasets: ``images/NAME.jpg`` with ``labels/NAME.txt`` rows ``cls cx cy w h``."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from models.data.types import LabelledFrame, list_images, read_gray
from models.inference.preprocess import Box

logger = logging.getLogger(__name__)


def parse_yolo_labels(text: str, width: int, height: int, person_class: int = 0) -> list[Box]:
    """Boxes of ``person_class`` from a YOLO label file's text, in pixels."""
    boxes = []
    for lineno, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 5:
            raise ValueError(f"line {lineno}: expected 'cls cx cy w h', got {line!r}")
        cls = int(float(parts[0]))
        cx, cy, w, h = (float(v) for v in parts[1:5])
        if cls != person_class or w <= 0 or h <= 0:
            continue
        boxes.append(Box((cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height))
    return boxes


def iter_yolo(root: Path, person_class: int = 0) -> Iterator[LabelledFrame]:
    """Frames of a YOLO split folder (``root/images``, ``root/labels``).

    An image without a label file has no person in it.
    """
    root = Path(root)
    for path in list_images(root / "images"):
        image = read_gray(path)
        label_path = root / "labels" / f"{path.stem}.txt"
        text = label_path.read_text() if label_path.exists() else ""
        boxes = parse_yolo_labels(text, image.shape[1], image.shape[0], person_class)
        yield LabelledFrame(key=str(path), image=image, boxes=boxes, group=path.stem.split("_")[0])

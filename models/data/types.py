"""What the loaders yield: frames with person boxes, or whole images with a label."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from models.inference.preprocess import Box

#: Image suffixes the folder loaders pick up.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass
class LabelledFrame:
    """A grayscale frame and every person box in it (boxes may be empty)."""

    key: str
    image: np.ndarray
    boxes: list[Box] = field(default_factory=list)
    #: Scene / sequence the frame belongs to (frames of one group are correlated).
    group: str = ""


@dataclass
class ClassifiedImage:
    """A grayscale image that as a whole is a person (1) or not (0) — VWW style."""

    key: str
    image: np.ndarray
    label: int
    group: str = ""


def read_gray(path: Path) -> np.ndarray:
    """Read an image file as uint8 grayscale; raise ``ValueError`` if it does not decode."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ValueError(f"cannot decode image {path}")
    return image


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)

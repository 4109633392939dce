"""Keep the crops the CNN saw, as a labelled folder for training or site adaptation.

``smartcam node simulate --dump-crops DIR`` writes every classified crop
(exactly the model input: the node's crop, context and size) as a PNG plus
``DIR/labels.csv`` (``image,label,frame,score``), the format of
``models.data.labelled_folder``. Crops are labelled 0 (no person): frames
the ground truth marks as having a person are left out, so without ground
truth the footage must be person-free. These are the hard negatives a site
produces — what its motion stage proposes when nobody is there.
"""
from __future__ import annotations

import csv
import logging
from pathlib import Path

import cv2
import numpy as np

logger = logging.getLogger(__name__)


class CropDump:
    """Collects classified crops per frame; :meth:`write` keeps the person-free ones."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._crops: list[tuple[int, np.ndarray, float]] = []

    def add(self, frame_index: int, crops: np.ndarray, scores: np.ndarray) -> None:
        """Remember the model-input crops of one frame and their scores."""
        self._crops += [(frame_index, c.copy(), float(s)) for c, s in zip(crops, scores)]

    def write(self, presence: np.ndarray | None = None) -> int:
        """Write the crops of frames without a person (all, if ``presence`` is None); return how many."""
        self.folder.mkdir(parents=True, exist_ok=True)
        kept = 0
        with (self.folder / "labels.csv").open("w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["image", "label", "frame", "score"])
            for n, (frame, crop, score) in enumerate(self._crops):
                if presence is not None and frame < len(presence) and presence[frame]:
                    continue
                name = f"f{frame:06d}_{n:06d}.png"
                if not cv2.imwrite(str(self.folder / name), crop):
                    raise OSError(f"could not write {self.folder / name}")
                out.writerow([name, 0, frame, f"{score:.4f}"])
                kept += 1
        logger.info("wrote %d person-free crops of %d to %s", kept, len(self._crops), self.folder)
        return kept

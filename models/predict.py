"""Score every image file of a folder with a model (the node's crop preprocessing)."""
from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from models.data.types import list_images, read_gray
from models.inference import Backend, TfliteClassifier, crop_region, whole_image_box
from models.inference.cascade import open_cascade

logger = logging.getLogger(__name__)


@dataclass
class ImageScore:
    image: str
    score: float | None
    error: str | None = None
    #: How the image became the model's square input.
    fit: str = ""


def describe_fit(shape: tuple[int, ...], size: int) -> str:
    """How :func:`score_images` fits an image of ``shape`` into a ``size`` square input."""
    h, w = shape[:2]
    if h == w:
        return "square: resized" if h != size else "square: as is"
    return f"not square: padded to {max(h, w)}x{max(h, w)} by repeating its edge pixels, then resized"


def score_images(images_dir: Path, model: Path, backend: Backend = Backend.TFLM, confirm: Path | None = None,
                 confirm_threshold: float | None = None) -> list[ImageScore]:
    """Person score of each image: the whole image is the region, cut as the node cuts one.

    A square image (a crop the node dumped, or any square region of a frame)
    scores exactly what the node scores for it; a non-square one is padded
    to square with its edge pixels first (see :func:`describe_fit`). With
    ``confirm``, the score is the node's cascade score (model screening,
    ``confirm`` confirming; :mod:`models.inference.cascade`).
    """
    images = list_images(Path(images_dir))
    if not images:
        raise ValueError(f"no image files in {images_dir}")
    clf = TfliteClassifier(model, backend)
    cascade = open_cascade(clf, model, confirm, backend, confirm_threshold=confirm_threshold) if confirm else None
    results = []
    for path in tqdm(images, desc="predict", unit="image"):
        try:
            gray = read_gray(path)
        except ValueError as exc:
            logger.warning("%s", exc)
            results.append(ImageScore(path.name, None, str(exc)))
            continue
        def cut(size: int, index, gray=gray) -> np.ndarray:
            return np.stack([crop_region(gray, whole_image_box(gray), size, context=1.0) for _ in index])

        crop = cut(clf.input_size, [0])
        score = cascade.predict(crop, cut) if cascade is not None else clf.predict(crop)
        results.append(ImageScore(path.name, float(score[0]), fit=describe_fit(gray.shape, clf.input_size)))
    return results


def write_scores(results: list[ImageScore], out: Path) -> None:
    """``image,score,fit`` rows for the images that decoded."""
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with Path(out).open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image", "score", "fit"])
        for r in results:
            if r.score is not None:
                writer.writerow([r.image, f"{np.float32(r.score):.6f}", r.fit])

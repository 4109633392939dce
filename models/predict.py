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

logger = logging.getLogger(__name__)


@dataclass
class ImageScore:
    image: str
    score: float | None
    error: str | None = None


def score_images(images_dir: Path, model: Path, backend: Backend = Backend.TFLM) -> list[ImageScore]:
    """Person score of each image (the whole image is the region, padded to square)."""
    images = list_images(Path(images_dir))
    if not images:
        raise ValueError(f"no image files in {images_dir}")
    clf = TfliteClassifier(model, backend)
    results = []
    for path in tqdm(images, desc="predict", unit="image"):
        try:
            gray = read_gray(path)
        except ValueError as exc:
            logger.warning("%s", exc)
            results.append(ImageScore(path.name, None, str(exc)))
            continue
        crop = crop_region(gray, whole_image_box(gray), clf.input_size, context=1.0)
        results.append(ImageScore(path.name, float(clf.predict(crop[None])[0])))
    return results


def write_scores(results: list[ImageScore], out: Path) -> None:
    """``image,score`` rows for the images that decoded."""
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with Path(out).open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image", "score"])
        for r in results:
            if r.score is not None:
                writer.writerow([r.image, f"{np.float32(r.score):.6f}"])

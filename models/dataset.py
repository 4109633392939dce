"""Cut every configured source into one :class:`CropSet` (cached on disk)."""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from models.config import DataSources, SamplingConfig
from models.data.coco import iter_coco
from models.data.crops import CropSet, Jitter, classified_crops, moving_region_crops, negative_crops, positive_crops
from models.data.labelled_folder import iter_labelled_folder
from models.data.mot import iter_mot, iter_video_gray
from models.data.types import LabelledFrame
from models.data.yolo import iter_yolo

logger = logging.getLogger(__name__)


def iter_frames(sources: DataSources) -> Iterator[LabelledFrame]:
    """Every labelled frame of the box-annotated sources."""
    for root in sources.yolo:
        yield from iter_yolo(root)
    for coco in sources.coco:
        yield from iter_coco(coco.annotations, coco.images)
    for seq in sources.mot:
        yield from iter_mot(seq, step=sources.mot_step)


def build_crops(
    sources: DataSources,
    size: int,
    sampling: SamplingConfig,
    seed: int,
    jitter: bool,
    desc: str = "crops",
) -> CropSet:
    """Positives and negatives of all sources at ``size``; jittered positives when ``jitter``."""
    rng = np.random.default_rng(seed)
    parts = [CropSet.empty(size)]
    shake = Jitter() if jitter else None
    variants = sampling.positive_variants if jitter else 1
    for frame in tqdm(iter_frames(sources), desc=desc, unit="frame"):
        parts.append(positive_crops(frame, size, rng, variants, shake, sampling.min_person_height))
        parts.append(negative_crops(frame, size, rng, sampling.negatives_per_frame, sampling.min_person_height))
    for folder in sources.folders:
        parts.append(classified_crops(iter_labelled_folder(folder.folder, folder.labels), size))
    for video in sources.negative_videos:
        frames = tqdm(iter_video_gray(video, sources.video_step), desc=f"{desc}: {video.name}", unit="frame")
        parts.append(moving_region_crops(frames, size, rng, group=video.stem))
    crops = CropSet.concat(parts)
    if not len(crops):
        raise ValueError(f"{desc}: the configured sources yielded no crops")
    logger.info("%s: %d crops (%d person)", desc, len(crops), int(crops.labels.sum()))
    return crops


def cached_crops(cache_dir: Path, sources: DataSources, size: int, sampling: SamplingConfig, seed: int, jitter: bool, desc: str) -> CropSet:
    """:func:`build_crops`, reusing an earlier result for the same inputs."""
    # Labelled folders change in place (re-mined crops): their labels file's stamp is part of the key.
    stamps = [_stamp(f.labels or f.folder / "labels.csv") for f in sources.folders]
    key = hashlib.sha256(
        f"{sources.model_dump_json()}|{stamps}|{size}|{sampling.model_dump_json()}|{seed}|{jitter}|v3".encode()
    ).hexdigest()[:16]
    path = Path(cache_dir) / f"{desc}-{key}.npz"
    if path.exists():
        logger.info("%s: cached %s", desc, path)
        return CropSet.load(path)
    crops = build_crops(sources, size, sampling, seed, jitter, desc)
    path.parent.mkdir(parents=True, exist_ok=True)
    crops.save(path)
    return crops


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns

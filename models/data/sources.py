"""The data sources of the cross-source table, and which paths belong to each.

A *source* is one camera world (a dataset, a video sequence): everything
under its root folder counts as that source. Leave-one-source-out means a
model reported on a source never saw any path under that root, neither to
train on nor to pick its epoch or threshold (:func:`sources_touched`).
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from models.config import DataSources, TrainConfig
from models.data.mot import iter_mot, iter_video_gray
from models.data.regions import RegionSet, build_region_set, moving_region_set
from models.data.yolo import iter_yolo
from models.inference.model_info import CARD_FILE, TRAINING_FILE


class SourceKind(str, Enum):
    """How a source's evaluation regions are cut."""

    #: YOLO split folders: person boxes and hard box-free negatives.
    YOLO = "yolo"
    #: MOT sequence folders: person boxes and hard box-free negatives.
    MOT = "mot"
    #: Person-free videos: their moving regions, negatives only.
    VIDEO = "video"


@dataclass(frozen=True)
class Source:
    """One camera world of the data root."""

    name: str
    #: Folder (relative to the data root) whose every path is this source.
    root: Path
    kind: SourceKind
    #: What is evaluated (relative to the data root): split folders, sequences or videos.
    evaluated: tuple[Path, ...]
    description: str


#: The cross-source table of ``smartcam model evaluate``, in the order it is printed.
SOURCES: tuple[Source, ...] = (
    Source("capston2-test", Path("capston2"), SourceKind.YOLO, (Path("capston2/test"),),
           "CCTV, offices, corridors, street photos; Capston2's test split"),
    Source("cctv_clinic", Path("cctv_clinic"), SourceKind.YOLO, (Path("cctv_clinic/train"), Path("cctv_clinic/valid")),
           "ceiling CCTV of a waiting room: seated, crowded, IR"),
    Source("TUD-Campus", Path("mot15/TUD-Campus"), SourceKind.MOT, (Path("mot15/TUD-Campus"),),
           "MOT15 pedestrians, 640x480"),
    Source("TUD-Stadtmitte", Path("mot15/TUD-Stadtmitte"), SourceKind.MOT, (Path("mot15/TUD-Stadtmitte"),),
           "MOT15 pedestrians in a city square, 640x480"),
    Source("distractors", Path("distractors"), SourceKind.VIDEO,
           (Path("distractors/traffic_overhead.avi"), Path("distractors/traffic_suburban.avi")),
           "person-free traffic videos: moving cars only"),
)


def source_named(name: str) -> Source:
    """The source called ``name``; ``ValueError`` listing the known ones otherwise."""
    for source in SOURCES:
        if source.name == name or source.root.as_posix() == name:
            return source
    raise ValueError(f"unknown source {name!r}; known: {', '.join(s.name for s in SOURCES)}")


def _paths(sources: DataSources) -> list[Path]:
    return [
        *sources.yolo,
        *(c.images for c in sources.coco),
        *sources.mot,
        *(f.folder for f in sources.folders),
        *sources.negative_videos,
    ]


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def sources_touched(data: Iterable[DataSources], data_root: Path) -> list[str]:
    """Names of the sources any path of ``data`` lies under (relative paths resolve against ``data_root``),
    or that a labelled folder says its crops were cut from."""
    data = list(data)
    paths = [p if p.is_absolute() else data_root / p for d in data for p in _paths(d)]
    named = {f.source for d in data for f in d.folders}
    return [s.name for s in SOURCES if s.name in named or any(_under(p, data_root / s.root) for p in paths)]


def leave_out(data: DataSources, source: Source, data_root: Path) -> DataSources:
    """A copy of ``data`` without any path under ``source``'s root."""
    root = data_root / source.root
    keep = lambda p: not _under(p if p.is_absolute() else data_root / p, root)
    return data.model_copy(
        update={
            "yolo": [p for p in data.yolo if keep(p)],
            "coco": [c for c in data.coco if keep(c.images)],
            "mot": [p for p in data.mot if keep(p)],
            "folders": [f for f in data.folders if keep(f.folder) and f.source != source.name],
            "negative_videos": [p for p in data.negative_videos if keep(p)],
        }
    )


def trained_sources(model: Path) -> list[str] | None:
    """The sources a model was trained or validated on, from the report beside it; ``None`` if it has none."""
    folder = Path(model).parent
    for name, config_key in ((TRAINING_FILE, "config"), (CARD_FILE, "training_config")):
        path = folder / name
        if not path.exists():
            continue
        doc = json.loads(path.read_text())
        if doc.get("model_file", Path(model).name) != Path(model).name:
            continue
        recorded = doc.get("sources", (doc.get("training") or {}).get("sources"))
        if recorded is not None:
            return list(recorded)
        if doc.get(config_key):
            cfg = TrainConfig.model_validate(doc[config_key])
            return sources_touched([cfg.train, cfg.validation], cfg.data_root)
    return None


def source_regions(source: Source, data_root: Path, negatives_per_frame: int = 4, seed: int = 0) -> RegionSet:
    """The evaluation regions of ``source``: person boxes and hard negatives, or a video's moving regions."""
    paths = [data_root / p for p in source.evaluated]
    if source.kind is SourceKind.VIDEO:
        parts = [moving_region_set(iter_video_gray(p), p.stem) for p in paths]
        return RegionSet.concat(parts)
    iterate = iter_yolo if source.kind is SourceKind.YOLO else iter_mot
    frames = (frame for p in paths for frame in iterate(p))
    return build_region_set(frames, seed, negatives_per_frame, desc=source.name, hard=True)

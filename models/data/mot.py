"""MOT challenge sequences: ``gt/gt.txt`` + ``seqinfo.ini`` + a video file or ``img1/`` frames."""
from __future__ import annotations

import configparser
import logging
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import cv2

from models.data.types import LabelledFrame, list_images, read_gray
from models.inference.preprocess import Box

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov")
#: MOT16+ class ids that are people (pedestrian, person on vehicle, static person).
_PERSON_CLASSES = {1, 2, 7}


def parse_mot_rows(text: str, min_visibility: float = 0.0) -> Iterator[tuple[int, int, Box]]:
    """``(frame (1-based), track id, box)`` for each person row of a MOT ``gt.txt``.

    Rows flagged ``conf == 0`` (ignore) are skipped. MOT16+ rows (9 columns:
    ``...,conf,class,visibility``) of non-person classes or below
    ``min_visibility`` are skipped too; MOT15 rows (10 columns: ``...,conf,x,y,z``
    world coordinates) carry no class.
    """
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) < 6:
            raise ValueError(f"gt line {lineno}: expected 'frame,id,left,top,width,height,...'")
        frame, track = int(float(parts[0])), int(float(parts[1]))
        left, top, width, height = (float(v) for v in parts[2:6])
        conf = float(parts[6]) if len(parts) > 6 else 1.0
        mot16 = len(parts) == 9
        cls = int(float(parts[7])) if mot16 else -1
        vis = float(parts[8]) if mot16 else 1.0
        if conf == 0 or (cls != -1 and cls not in _PERSON_CLASSES) or vis < min_visibility:
            continue
        if width > 0 and height > 0:
            yield frame, track, Box(left, top, width, height)


def parse_mot_gt(text: str, min_visibility: float = 0.0) -> dict[int, list[Box]]:
    """``{frame (1-based): [boxes]}`` from a MOT ``gt.txt`` (see :func:`parse_mot_rows`)."""
    boxes: dict[int, list[Box]] = defaultdict(list)
    for frame, _, box in parse_mot_rows(text, min_visibility):
        boxes[frame].append(box)
    return dict(boxes)


def find_video(seq_dir: Path) -> Path | None:
    """The sequence's video file, if it has one."""
    for path in sorted(Path(seq_dir).iterdir()):
        if path.suffix.lower() in VIDEO_SUFFIXES:
            return path
    return None


def iter_video_gray(path: Path, step: int = 1) -> Iterator[tuple[int, cv2.typing.MatLike]]:
    """``(0-based index, grayscale frame)`` of every ``step``-th frame of a video."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"cannot open video {path}")
    try:
        index = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if index % step == 0:
                yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            index += 1
    finally:
        cap.release()


def iter_mot(seq_dir: Path, step: int = 1, min_visibility: float = 0.0) -> Iterator[LabelledFrame]:
    """Every ``step``-th frame of a MOT sequence with its person boxes."""
    seq_dir = Path(seq_dir)
    info = configparser.ConfigParser()
    info.read(seq_dir / "seqinfo.ini")
    name = info.get("Sequence", "name", fallback=seq_dir.name)
    gt = parse_mot_gt((seq_dir / "gt" / "gt.txt").read_text(), min_visibility)
    video = find_video(seq_dir)
    if video is not None:
        frames: Iterator = iter_video_gray(video, step)
    else:
        paths = list_images(seq_dir / info.get("Sequence", "imDir", fallback="img1"))
        frames = ((i, read_gray(p)) for i, p in enumerate(paths) if i % step == 0)
    for index, image in frames:
        yield LabelledFrame(key=f"{name}#{index}", image=image, boxes=gt.get(index + 1, []), group=name)

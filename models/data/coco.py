"""COCO instances json (e.g. COCO 2017, or Visual Wake Words' annotation files)."""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from models.data.types import LabelledFrame, read_gray
from models.inference.preprocess import Box

logger = logging.getLogger(__name__)


def iter_coco(annotations: Path, images_dir: Path, category: str = "person") -> Iterator[LabelledFrame]:
    """Frames listed in a COCO json with the boxes of ``category`` (crowd boxes skipped)."""
    doc = json.loads(Path(annotations).read_text())
    cat_ids = {c["id"] for c in doc.get("categories", []) if c.get("name") == category}
    if not cat_ids:
        raise ValueError(f"{annotations}: no category named {category!r}")
    boxes: dict[int, list[Box]] = defaultdict(list)
    for ann in doc.get("annotations", []):
        if ann.get("category_id") in cat_ids and not ann.get("iscrowd", 0):
            x, y, w, h = (float(v) for v in ann["bbox"])
            if w > 0 and h > 0:
                boxes[ann["image_id"]].append(Box(x, y, w, h))
    for info in sorted(doc.get("images", []), key=lambda i: i["file_name"]):
        path = Path(images_dir) / info["file_name"]
        yield LabelledFrame(key=str(path), image=read_gray(path), boxes=boxes.get(info["id"], []), group=str(info["id"]))

"""A folder of whole images with a labels CSV (``image,label``; 1 = person).

This is the shape of Visual Wake Words / Wake Vision exports and of a user's
own site footage sorted by hand.
"""
from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from models.data.types import ClassifiedImage, read_gray

_TRUE = {"1", "person", "true", "yes"}
_FALSE = {"0", "no_person", "background", "false", "no"}


def iter_labelled_folder(folder: Path, labels_csv: Path | None = None) -> Iterator[ClassifiedImage]:
    """Images of ``folder`` labelled by ``labels_csv`` (default ``folder/labels.csv``)."""
    folder = Path(folder)
    labels_csv = Path(labels_csv) if labels_csv else folder / "labels.csv"
    with labels_csv.open(newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"image", "label"} <= set(reader.fieldnames):
            raise ValueError(f"{labels_csv}: needs 'image' and 'label' columns, has {reader.fieldnames}")
        for row_no, row in enumerate(reader, 2):
            value = row["label"].strip().lower()
            if value not in _TRUE | _FALSE:
                raise ValueError(f"{labels_csv}:{row_no}: label {row['label']!r} is not 0/1")
            path = folder / row["image"]
            yield ClassifiedImage(key=str(path), image=read_gray(path), label=int(value in _TRUE), group=path.parent.name)

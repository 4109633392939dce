"""Labelled-image loaders (YOLO, COCO, MOT, labelled folders) and crop sampling."""
from models.data.types import ClassifiedImage, LabelledFrame

__all__ = ["ClassifiedImage", "LabelledFrame"]

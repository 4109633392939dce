"""Training configuration (YAML, validated; unknown keys are errors)."""
from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field

from models.architecture import ArchConfig
from models.augment import AugmentConfig
from yamlconfig import ConfigError, StrictModel, load_yaml_model

__all__ = ["ConfigError", "DistillConfig", "TrainConfig", "default_data_root", "load_train_config"]

#: Environment variable naming the root that relative data paths resolve against.
DATA_ROOT_ENV = "SMARTCAM_DATA"
_REPO = Path(__file__).resolve().parent.parent


def default_data_root() -> Path:
    """``$SMARTCAM_DATA``, else ``../shared/data`` next to the repository."""
    return Path(os.environ.get(DATA_ROOT_ENV, _REPO.parent / "shared" / "data"))


class CocoSource(StrictModel):
    annotations: Path = Field(description="COCO instances json.")
    images: Path = Field(description="Folder the json's file_name entries are relative to.")


class FolderSource(StrictModel):
    folder: Path = Field(description="Folder of whole images (already crops).")
    labels: Path | None = Field(None, description="CSV with image,label columns (default folder/labels.csv).")
    source: str | None = Field(
        None, description="The source the crops were cut from (e.g. distractors, for the node's own crops of those "
        "videos): they count as that source for leave-one-source-out and leave with it.")


class DataSources(StrictModel):
    """Where labelled images come from; relative paths resolve against ``data_root``."""

    yolo: list[Path] = Field(default_factory=list, description="YOLO split folders (images/, labels/).")
    coco: list[CocoSource] = Field(default_factory=list, description="COCO json + image folder pairs.")
    mot: list[Path] = Field(default_factory=list, description="MOT sequence folders (gt/gt.txt + video or img1/).")
    folders: list[FolderSource] = Field(default_factory=list, description="Labelled folders of whole images.")
    negative_videos: list[Path] = Field(default_factory=list, description="Person-free videos: moving regions become hard negatives.")
    mot_step: int = Field(5, ge=1, description="Use every n-th frame of MOT sequences (consecutive frames are near-duplicates).")
    video_step: int = Field(1, ge=1, description="Use every n-th frame of negative videos.")

    def resolved(self, root: Path) -> DataSources:
        """A copy with every relative path made absolute under ``root``."""
        fix = lambda p: p if p is None or p.is_absolute() else root / p
        return self.model_copy(
            update={
                "yolo": [fix(p) for p in self.yolo],
                "coco": [CocoSource(annotations=fix(c.annotations), images=fix(c.images)) for c in self.coco],
                "mot": [fix(p) for p in self.mot],
                "folders": [f.model_copy(update={"folder": fix(f.folder), "labels": fix(f.labels)}) for f in self.folders],
                "negative_videos": [fix(p) for p in self.negative_videos],
            }
        )


class SamplingConfig(StrictModel):
    """How frames become crops."""

    positive_variants: int = Field(2, ge=1, description="Jittered crops cut per training person box.")
    negatives_per_frame: int = Field(6, ge=0, description="Box-free squares cut per labelled frame.")
    min_person_height: float = Field(16.0, gt=0, description="Smaller person boxes (px) are skipped.")


class DistillConfig(StrictModel):
    """Soft targets from teacher models (knowledge distillation)."""

    teachers: list[Path] = Field(
        default_factory=list,
        description="Teacher .tflite models (relative paths resolve against data_root); their mean score on each "
        "training crop is the soft target. Empty: hard labels only.",
    )
    weight: float = Field(
        0.5, ge=0, le=1,
        description="Share of the teachers' score in a negative crop's target (w * teacher): box-free regions hold "
        "unlabelled people, which the teacher sees.",
    )
    positive_weight: float = Field(
        0.2, ge=0, le=1,
        description="Share of the teachers' score in a person crop's target ((1-w) + w * teacher): kept low, the "
        "MLPerf VWW teacher misses small, blurred and IR people (it scores half of Capston2's boxes < 0.5).",
    )

    def resolved(self, root: Path) -> list[Path]:
        """The teachers' paths made absolute under ``root``."""
        return [p if p.is_absolute() else root / p for p in self.teachers]


class TrainConfig(StrictModel):
    """Everything ``smartcam model train`` needs."""

    seed: int = Field(0, description="Seeds numpy, Python and TensorFlow; same seed, same model.")
    data_root: Path = Field(default_factory=default_data_root, description="Root for relative data paths.")
    train: DataSources = Field(description="Training sources.")
    validation: DataSources = Field(description="Validation sources: best epoch and operating threshold.")
    architecture: ArchConfig = Field(default_factory=ArchConfig)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    distill: DistillConfig = Field(default_factory=DistillConfig)
    epochs: int = Field(24, ge=1, description="Passes over the training crops.")
    batch_size: int = Field(128, ge=1)
    learning_rate: float = Field(3e-3, gt=0, description="Peak Adam learning rate (cosine decay).")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many steps (smoke runs).")
    target_fpr: float = Field(0.02, gt=0, lt=1, description="Operating threshold: false-positive rate on validation negatives.")
    screen_recall: float = Field(
        0.98, gt=0, le=1,
        description="Screening threshold (first stage of a cascade): the share of validation persons it keeps.",
    )
    representative_samples: int = Field(500, ge=10, description="Crops used to calibrate int8 quantisation.")


def load_train_config(path: Path, **overrides) -> TrainConfig:
    """Read and validate a training config; raise :class:`ConfigError` with the reason."""
    return load_yaml_model(path, TrainConfig, **overrides)

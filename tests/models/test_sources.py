"""Sources of the cross-source table: which paths belong to which camera world, and folds that leave one out."""
import json
import shutil
from pathlib import Path

import pytest

from models import SHIPPED_MODEL
from models.config import DataSources, FolderSource
from models.data.sources import SOURCES, leave_out, source_named, sources_touched, trained_sources
from models.evaluate import held_out_model

ROOT = Path("/data")


def recipe() -> DataSources:
    return DataSources(
        yolo=[Path("capston2/train"), Path("cctv_clinic/train")],
        mot=[Path("mot15/TUD-Campus")],
        negative_videos=[Path("distractors/traffic_overhead.avi")],
    )


def test_every_path_is_counted_to_the_source_whose_folder_holds_it():
    assert sources_touched([recipe()], ROOT) == ["capston2-test", "cctv_clinic", "TUD-Campus", "distractors"]
    assert sources_touched([DataSources(yolo=[Path("/elsewhere/site")])], ROOT) == []


def test_a_split_of_a_source_is_that_source():
    """Capston2's test split is held out only from a model that saw no Capston2 image at all."""
    assert sources_touched([DataSources(yolo=[Path("capston2/valid")])], ROOT) == ["capston2-test"]


def test_leaving_a_source_out_drops_all_its_paths_and_nothing_else():
    fold = leave_out(recipe(), source_named("cctv_clinic"), ROOT)
    assert fold.yolo == [Path("capston2/train")]
    assert fold.mot == [Path("mot15/TUD-Campus")] and fold.negative_videos == recipe().negative_videos
    assert "cctv_clinic" not in sources_touched([fold], ROOT)


def test_an_unknown_source_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="known: " + SOURCES[0].name):
        source_named("kitchen-cam")


def _model_with_report(folder: Path, sources: list[str] | None) -> Path:
    folder.mkdir()
    model = folder / "person_detector.tflite"
    shutil.copy(SHIPPED_MODEL, model)
    if sources is not None:
        (folder / "training.json").write_text(json.dumps({"model_file": model.name, "sources": sources, "threshold": 0.9}))
    return model


def test_each_source_is_scored_by_a_model_that_never_saw_it(tmp_path):
    full = _model_with_report(tmp_path / "full", ["capston2-test", "cctv_clinic", "distractors"])
    fold = _model_with_report(tmp_path / "fold-cctv", ["capston2-test", "distractors"])
    assert held_out_model([full, fold], "cctv_clinic") == (fold, True)
    assert held_out_model([full, fold], "TUD-Campus") == (full, True)
    assert trained_sources(fold) == ["capston2-test", "distractors"]


def test_without_a_held_out_model_the_table_says_it_was_trained_on_the_source(tmp_path):
    full = _model_with_report(tmp_path / "full", ["capston2-test", "cctv_clinic"])
    unknown = _model_with_report(tmp_path / "bare", None)
    assert held_out_model([full], "cctv_clinic") == (full, False)
    assert held_out_model([unknown], "cctv_clinic") == (unknown, None)


def test_the_shipped_models_sources_are_read_from_its_card():
    assert trained_sources(SHIPPED_MODEL)  # the card records what the shipped model was trained on


def test_crops_cut_from_a_source_count_as_it_and_leave_with_it():
    mined = recipe().model_copy(update={"folders": [FolderSource(folder=Path("/runs/mined"), source="distractors"),
                                                    FolderSource(folder=Path("/runs/site"))]})
    assert "distractors" in sources_touched([mined.model_copy(update={"negative_videos": []})], ROOT)
    fold = leave_out(mined, source_named("distractors"), ROOT)
    assert [f.folder for f in fold.folders] == [Path("/runs/site")]

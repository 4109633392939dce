"""`node simulate --dump-crops`: the CNN's own crops of person-free frames become a labelled training folder."""
import csv

import numpy as np

from camera_node.config import NodeConfig
from camera_node.simulate import simulate
from models.data.crops import classified_crops
from models.data.labelled_folder import iter_labelled_folder
from smartcam.cli import main


def rows(folder):
    with (folder / "labels.csv").open() as f:
        return list(csv.DictReader(f))


def test_every_classified_crop_of_a_person_free_video_is_written_as_a_negative(tmp_path, moving_video):
    report = simulate(NodeConfig(), str(moving_video), tmp_path / "out", progress=False, dump_crops=tmp_path / "crops")
    written = rows(tmp_path / "crops")
    assert report["dumped_crops"] == len(written) == report["inferences"] > 0
    assert {r["label"] for r in written} == {"0"}
    crops = classified_crops(iter_labelled_folder(tmp_path / "crops"), 64)
    assert len(crops) == len(written) and not crops.labels.any()
    assert crops.images.shape[1:] == (64, 64) and crops.images.std() > 0  # the model-input crops, not blanks


def test_frames_the_ground_truth_marks_as_having_a_person_are_left_out(tmp_path, moving_video):
    truth = tmp_path / "truth.csv"
    truth.write_text("frame,present\n" + "".join(f"{i},{int(i >= 12)}\n" for i in range(24)))
    simulate(NodeConfig(), str(moving_video), tmp_path / "out", gt=truth, progress=False, dump_crops=tmp_path / "crops")
    frames = [int(r["frame"]) for r in rows(tmp_path / "crops")]
    assert frames and max(frames) < 12


def test_the_cli_stops_after_max_frames_and_reports_the_dump(tmp_path, moving_video, capsys):
    code = main(["node", "simulate", "--source", str(moving_video), "--out", str(tmp_path / "out"), "--max-frames", "10",
                 "--dump-crops", str(tmp_path / "crops"), "--no-progress"])
    assert code == 0
    assert "10 frames" in capsys.readouterr().out
    assert all(int(r["frame"]) < 10 for r in rows(tmp_path / "crops"))
    assert np.isfinite([float(r["score"]) for r in rows(tmp_path / "crops")]).all()

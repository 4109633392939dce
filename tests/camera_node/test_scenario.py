"""Scenarios: a MOT sequence and distractors become a labelled video with empty stretches."""
import csv
import itertools
import json

import cv2
import numpy as np

from camera_node.scenario import NIGHT, CameraLook, build_scenario, estimate_background, load_sequence, walking_tracks
from tests.conftest import write_avi


def synthetic_sequence(root, frames=30):
    """A real AVI + MOT gt: one person walking left to right, one standing still."""
    seq = root / "SYN"
    (seq / "gt").mkdir(parents=True)
    rng = np.random.default_rng(0)
    bg = cv2.GaussianBlur(rng.integers(80, 170, (120, 160), dtype=np.uint8), (5, 5), 0)
    imgs, rows = [], []
    for i in range(frames):
        f = bg.copy()
        x = 5 + 4 * i
        f[40:90, x : x + 15] = 20
        f[40:90, 130:145] = 230
        imgs.append(f)
        rows += [f"{i + 1},1,{x},40,15,50,1,-1,-1,-1", f"{i + 1},2,130,40,15,50,1,-1,-1,-1"]
    write_avi(seq / "SYN.avi", imgs, fps=10)
    (seq / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")
    (seq / "seqinfo.ini").write_text("[Sequence]\nname=SYN\n")
    return seq, bg


def test_walking_tracks_exclude_people_standing_still(tmp_path):
    seq, _ = synthetic_sequence(tmp_path)
    assert walking_tracks(load_sequence(seq)) == [1]


def test_background_estimate_removes_the_walker(tmp_path):
    seq, bg = synthetic_sequence(tmp_path)
    est = cv2.cvtColor(estimate_background(load_sequence(seq)), cv2.COLOR_BGR2GRAY)
    assert np.abs(est[40:90, 5:120].astype(int) - bg[40:90, 5:120]).mean() < 12


def test_scenario_video_and_truth_agree(tmp_path, moving_video):
    seq, _ = synthetic_sequence(tmp_path)
    doc = build_scenario([seq], [moving_video], tmp_path / "out", empty_seconds=2.0)
    rows = list(csv.DictReader((tmp_path / "out" / "truth.csv").open()))
    cap = cv2.VideoCapture(str(tmp_path / "out" / "scenario.avi"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == len(rows) == doc["frames"]
    kinds = [s["kind"] for s in doc["segments"]]
    assert kinds[:5] == ["empty", "person", "empty", "illumination", "distractor"]
    person = doc["segments"][1]
    present = [int(r["present"]) for r in rows]
    assert sum(present) == doc["person_frames"] == person["frames"] == 30
    assert present[person["first_frame"] - 1] == 0 and present[person["first_frame"]] == 1
    assert json.loads((tmp_path / "out" / "scenario.json").read_text())["segments"] == doc["segments"]


def test_a_walker_who_stays_still_is_held_with_noise_and_counted_present(tmp_path):
    seq, _ = synthetic_sequence(tmp_path)
    doc = build_scenario([seq], [], tmp_path / "out", empty_seconds=1.0, still_seconds=3.0)
    still = next(s for s in doc["segments"] if s["kind"] == "still")
    assert still["frames"] == 30 + 30 and still["detail"]["hold_seconds"] == 3.0  # the walk plus 3 s held at 10 fps
    rows = [int(r["present"]) for r in csv.DictReader((tmp_path / "out" / "truth.csv").open())]
    assert all(rows[still["first_frame"] : still["first_frame"] + still["frames"]])
    cap = cv2.VideoCapture(str(tmp_path / "out" / "scenario.avi"))
    frames = [cap.read()[1] for _ in range(doc["frames"])]
    held = frames[still["first_frame"] + 20 : still["first_frame"] + 40]
    changes = [np.abs(a.astype(int) - b).mean() for a, b in itertools.pairwise(held)]
    assert 0.5 < min(changes) and max(changes) < 6  # never a frozen copy, never a jump


def test_far_walkers_are_scaled_down_and_parked_clips_stop(tmp_path, moving_video):
    seq, _ = synthetic_sequence(tmp_path)
    doc = build_scenario([seq], [moving_video], tmp_path / "out", empty_seconds=1.0, far_scale=0.5, parked_seconds=2.0)
    far = next(s for s in doc["segments"] if s["kind"] == "far")
    assert far["detail"]["person_height_median"] == 25  # the 50 px walker at half size
    parked = next(s for s in doc["segments"] if s["kind"] == "parked")
    assert parked["frames"] == 24 + 20
    rows = [int(r["present"]) for r in csv.DictReader((tmp_path / "out" / "truth.csv").open())]
    assert not any(rows[parked["first_frame"] : parked["first_frame"] + parked["frames"]])
    assert sum(rows[far["first_frame"] : far["first_frame"] + far["frames"]]) == 30


def test_a_build_is_reused_while_its_inputs_are_unchanged_and_redone_when_they_change(tmp_path):
    from camera_node.scenario import build_once

    source = tmp_path / "clip.avi"
    source.write_bytes(b"x" * 10)
    out, builds = tmp_path / "built", []

    def build():
        builds.append(1)
        (out / "scenario.avi").write_bytes(b"built")

    assert build_once(out, [source], {"fps": 10}, build) is False
    assert build_once(out, [source], {"fps": 10}, build) is True and len(builds) == 1
    assert build_once(out, [source], {"fps": 7}, build) is False  # other parameters
    source.write_bytes(b"y" * 11)
    assert build_once(out, [source], {"fps": 7}, build) is False and len(builds) == 3  # the input changed


def test_a_mirrored_camera_sees_the_scene_left_and_right_swapped(tmp_path):
    seq, _ = synthetic_sequence(tmp_path)
    first = {}
    for name, look in (("as-is", CameraLook(noise=0.0)), ("mirrored", CameraLook(noise=0.0, mirrored=True))):
        doc = build_scenario([seq], [], tmp_path / name, empty_seconds=1.0, look=look)
        assert doc["look"]["mirrored"] is look.mirrored
        cap = cv2.VideoCapture(str(tmp_path / name / "scenario.avi"))
        first[name] = cv2.cvtColor(cap.read()[1], cv2.COLOR_BGR2GRAY).astype(np.float32)
    assert np.abs(first["mirrored"] - first["as-is"][:, ::-1]).mean() < 2.0  # the same frame, flipped (JPEG aside)
    assert np.abs(first["mirrored"] - first["as-is"]).mean() > 5.0


def test_a_night_camera_sees_the_scene_darker_flatter_and_noisier(tmp_path):
    seq, _ = synthetic_sequence(tmp_path)
    day = build_scenario([seq], [], tmp_path / "day", empty_seconds=1.0)
    night = build_scenario([seq], [], tmp_path / "night", empty_seconds=1.0, look=NIGHT)
    assert night["look"] == {"gain": NIGHT.gain, "offset": NIGHT.offset, "noise": NIGHT.noise, "mirrored": False}
    assert day["look"]["gain"] == 1.0
    first = {}
    for name in ("day", "night"):
        cap = cv2.VideoCapture(str(tmp_path / name / "scenario.avi"))
        frames = [cv2.cvtColor(cap.read()[1], cv2.COLOR_BGR2GRAY).astype(np.float32) for _ in range(2)]
        first[name] = frames
    d, n = first["day"], first["night"]
    assert n[0].mean() < 0.5 * d[0].mean() and n[0].std() < 0.5 * d[0].std()  # darker, less contrast
    assert np.abs(n[1] - n[0]).mean() > np.abs(d[1] - d[0]).mean()  # more noise between frames of a still scene

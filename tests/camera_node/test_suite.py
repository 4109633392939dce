"""The unseen-camera suite: its cases, its goals, and the node holding them on real footage."""
from dataclasses import replace

import numpy as np

from camera_node.config import NodeConfig
from camera_node.scenario import (
    DUSK,
    NIGHT,
    CameraLook,
    ScenarioBuilder,
    estimate_background,
    load_sequence,
    walking_tracks,
)
from camera_node.simulate import simulate
from camera_node.suite import SUITE, ScenarioSpec, build, camera_look, goal_misses
from tests.conftest import DATA, need

#: The smallest person the node handles at its defaults, in pixels of a 640x480 sensor frame (README, "The node").
SMALLEST_PERSON_PX = 26


def test_every_kind_of_case_is_there_tuned_and_held_out():
    assert len({s.name for s in SUITE}) == len(SUITE)
    for kind in ("walk", "still", "far", "traffic", "parked"):
        assert {s.held_out for s in SUITE if s.kind == kind} == {False, True}
    assert {s.held_out for s in SUITE if s.kind == "night"} == {True}  # added untouched: never tuned on


def test_goals_are_the_issues_bar():
    still = ScenarioSpec("still-x", "still", "mot15/X", False)
    good = {"presences": 2, "events": 2, "caught": 2, "false_alerts": 0, "frame_recall": 0.99,
            "median_latency_s": 0.3, "saved_vs_oracle": 0.97, "cnn_person_free": 0.05}
    assert goal_misses(still, good) == []
    assert goal_misses(still, {**good, "events": 3}) == ["events != presences"]  # a still person split in two
    assert goal_misses(still, {**good, "frame_recall": 0.97}) == ["frame recall"]  # 0.98 for still people
    assert goal_misses(ScenarioSpec("walk-x", "walk", "mot15/X", False), {**good, "frame_recall": 0.97}) == []
    parked = ScenarioSpec("parked-x", "parked", "d.avi", False)
    empty = {"presences": 0, "events": 1, "caught": 0, "false_alerts": 1, "frame_recall": None,
             "median_latency_s": None, "saved_vs_oracle": None, "cnn_person_free": 0.12}
    assert goal_misses(parked, empty) == ["false alerts", "CNN >= 10% of empty frames", "events"]


def test_a_view_renders_every_scenario_in_its_look_but_night_stays_night():
    walk, night = (next(s for s in SUITE if s.kind == kind) for kind in ("walk", "night"))
    assert camera_look(walk) == CameraLook()
    assert camera_look(walk, "dusk", mirrored=True) == replace(DUSK, mirrored=True)
    assert camera_look(night, "dusk") == NIGHT  # the walk scenario at night: already its own look


def node_on(builder: ScenarioBuilder) -> dict:
    builder.finish()
    out = builder.out_dir
    return simulate(NodeConfig(), str(out / "scenario.avi"), out / "run", out / "truth.csv", progress=False)["metrics"]


def test_far_walkers_from_the_smallest_stated_height_are_caught(tmp_path):
    seq = load_sequence(need(DATA / "mot15" / "TUD-Campus"))
    bg = estimate_background(seq)
    walkers = sorted(walking_tracks(seq), key=lambda t: -len(seq.tracks[t]))
    heights = sorted(b[3] for t in walkers[1::2][:3] for b in seq.tracks[t].values())
    scale = SMALLEST_PERSON_PX / float(np.median(heights))  # the median walker at the stated height
    out = ScenarioBuilder(tmp_path / "far", (640, 480), 10.0)
    out.empty(bg, 5.0)
    out.far(seq, bg, walkers[1::2][:3], scale)
    out.empty(bg, 5.0)
    node = node_on(out)["recorders"]["node"]
    assert node["events"] == node["events_caught"] == 1 and node["frame_recall"] >= 0.95


def test_a_person_who_stays_still_is_one_event_recorded_throughout(tmp_path):
    seq = load_sequence(need(DATA / "mot15" / "TUD-Stadtmitte"))
    bg = estimate_background(seq)
    walker = max(walking_tracks(seq), key=lambda t: len(seq.tracks[t]))
    out = ScenarioBuilder(tmp_path / "still", (640, 480), 10.0)
    out.empty(bg, 5.0)
    out.still(seq, bg, walker, 20.0)  # 20 s still: the motion stage absorbs them after 1.5 s
    out.empty(bg, 5.0)
    metrics = node_on(out)
    node = metrics["recorders"]["node"]
    assert node["events"] == node["events_caught"] == 1 and node["false_alerts"] == 0
    assert node["frame_recall"] >= 0.98


def test_a_person_who_stays_still_and_leaves_leaves_no_ghost_to_record(tmp_path):
    """The suite's still-tud-stadtmitte, mirrored: after 20 s still, in which the motion stage's slow background learnt
    much of them, the second sitter stands a moment beside their seat and is gone. The spot they sat on, empty, scored
    0.50-0.54 and kept their track, and the event, open to the end (0.69x the oracle's savings): the slow background
    now does not learn where people stand, so the spot shows uncovered, a ghost, when they leave."""
    spec = next(s for s in SUITE if s.name == "still-tud-stadtmitte")
    need(DATA / spec.source)
    build(spec, DATA, tmp_path, mirrored=True)
    metrics = simulate(NodeConfig(), str(tmp_path / "scenario.avi"), tmp_path / "run", tmp_path / "truth.csv",
                       progress=False)["metrics"]
    node = metrics["recorders"]["node"]
    assert node["events"] == node["events_caught"] == 2 and node["frame_recall"] >= 0.98
    assert metrics["saved_vs_oracle"] >= 0.95


def test_a_person_who_stays_still_before_a_qvga_camera_is_one_event_recorded_throughout(tmp_path):
    """The same still person from a camera at QVGA (320x240), on the defaults: the motion frame stays about 160 px wide
    (decoded at 1/2, not 1/4), so the sitter is not a few fragments of an 80x60 frame (frame recall 0.42 when the
    scales were fixed for VGA: the track held a fragment, and the re-check compared the wrong part of them)."""
    seq = load_sequence(need(DATA / "mot15" / "TUD-Campus"))
    bg = estimate_background(seq)
    walker = max(walking_tracks(seq), key=lambda t: len(seq.tracks[t]))
    out = ScenarioBuilder(tmp_path / "still", (640, 480), 10.0)
    out.empty(bg, 5.0)
    out.still(seq, bg, walker, 20.0)
    out.empty(bg, 5.0)
    out.finish()
    qvga = NodeConfig.model_validate({"sensor": {"width": 320, "height": 240}})
    node = simulate(qvga, str(out.out_dir / "scenario.avi"), out.out_dir / "run", out.out_dir / "truth.csv",
                    progress=False)["metrics"]["recorders"]["node"]
    assert node["events"] == node["events_caught"] == 1 and node["false_alerts"] == 0
    assert node["frame_recall"] >= 0.98


def test_a_person_who_stays_still_before_a_15_fps_camera_is_one_event_recorded_throughout(tmp_path):
    """The same still person from a camera at 15 fps, on the defaults: the motion stage takes in someone standing still
    after ``absorb_after`` (1 s at 15 fps when it was counted in frames), and their box, shifting as it did, once counted as their arrival at a new
    spot whose empty background was then saved from that learnt background, the person in it: every re-check found
    the spot empty, and the event ended with them still there (frame recall 0.76 in the suite's still-tud-campus)."""
    seq = load_sequence(need(DATA / "mot15" / "TUD-Campus"))
    bg = estimate_background(seq)
    out = ScenarioBuilder(tmp_path / "still", (640, 480), 15.0)
    out.empty(bg, 5.0)
    out.still(seq, bg, 5, 20.0)
    out.empty(bg, 5.0)
    node = node_on(out)["recorders"]["node"]
    assert node["events"] == node["events_caught"] == 1 and node["false_alerts"] == 0
    assert node["frame_recall"] >= 0.98

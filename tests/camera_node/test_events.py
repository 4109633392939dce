"""The event state machine: start, keep, end, split, zones and sizes."""
import pytest

from camera_node.config import EventConfig, ZoneConfig
from camera_node.events import EventStateMachine
from camera_node.person import Detection
from models.inference.preprocess import Box

FPS = 10.0
PERSON = Detection(Box(100, 100, 40, 120), 0.9, True)
NOBODY = Detection(Box(100, 100, 40, 120), 0.1, False)


def run(machine, pattern, start=0):
    """Feed frames: 'P' person, '.' CNN ran and saw nobody, ' ' CNN did not run."""
    changes = []
    for i, c in enumerate(pattern, start):
        dets = {"P": [PERSON], ".": [NOBODY], " ": []}[c]
        changes += [(i, ch.kind, ch.event) for ch in machine.update(i, i / FPS, dets)]
    return changes


def machine(**kw):
    return EventStateMachine(EventConfig(**kw), "cam1", 640, 480)


def test_starts_after_k_of_n_and_dates_the_event_from_the_first_positive():
    changes = run(machine(start_k=2, start_n=4), "..P.P....")
    (i, kind, ev), = changes
    assert (i, kind) == (4, "new") and ev.start_frame == 2 and ev.alert_frame == 4


def test_one_flicker_does_not_start_an_event():
    assert run(machine(start_k=2, start_n=3), "P..P..P..") == []


def test_frames_without_cnn_do_not_count_against_k_of_n():
    kinds = [k for _, k, _ in run(machine(start_k=2, start_n=2), "P     P")]
    assert kinds == ["new"]


def test_ends_event_gap_after_the_last_person_and_ids_are_stable_and_unique():
    m = machine(start_k=1, start_n=1, event_gap=1.0, update_every=100)
    changes = run(m, "PPP" + "." * 12 + "PP" + "." * 12)
    kinds = [(i, k) for i, k, _ in changes]
    assert kinds == [(0, "new"), (13, "end"), (15, "new"), (27, "end")]
    first_ids = {ev.event_id for _, _, ev in changes[:2]}
    second_ids = {ev.event_id for _, _, ev in changes[2:]}
    assert len(first_ids) == 1 and len(second_ids) == 1 and first_ids != second_ids
    assert changes[1][2].end_time == pytest.approx(0.2)  # last person frame


def test_a_standing_person_seen_every_few_frames_keeps_the_event():
    m = machine(start_k=1, start_n=1, event_gap=1.0, update_every=100)
    assert [k for _, k, _ in run(m, "P  P  P  P  P  P  P")] == ["new"]


def test_long_events_are_split_at_max_length():
    m = machine(start_k=1, start_n=1, max_length=2.0, update_every=100)
    kinds = [(i, k) for i, k, _ in run(m, "P" * 45)]
    assert kinds == [(0, "new"), (20, "end"), (20, "new"), (40, "end"), (40, "new")]


def test_updates_are_sent_while_open():
    m = machine(start_k=1, start_n=1, update_every=0.5)
    kinds = [k for _, k, _ in run(m, "P" * 12)]
    assert kinds.count("update") == 2 and kinds[0] == "new"


def test_zone_counts_the_bottom_centre_of_the_box():
    zone = ZoneConfig(name="door", points=[(0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (0.0, 1.0)])
    m = machine(start_k=1, start_n=1, zones=[zone])
    feet_in = Detection(Box(100, 200, 40, 120), 0.9, True)  # foot at (120, 320): inside
    feet_out = Detection(Box(400, 200, 40, 120), 0.9, True)  # foot at (420, 320): outside
    assert m.update(0, 0.0, [feet_out]) == []
    (change,) = m.update(1, 0.1, [feet_in])
    assert change.kind == "new" and change.event.zones == {"door"}


def test_box_size_limits():
    m = machine(start_k=1, start_n=1, min_box_area=0.05)
    assert m.update(0, 0.0, [PERSON]) == []  # 40x120 of 640x480 = 1.6%
    big = Detection(Box(0, 0, 200, 300), 0.9, True)
    assert [c.kind for c in m.update(1, 0.1, [big])] == ["new"]


def test_flush_ends_the_open_event():
    m = machine(start_k=1, start_n=1)
    run(m, "PP")
    assert [c.kind for c in m.flush(2, 0.2)] == ["end"] and m.current is None


def test_k_larger_than_n_is_a_config_error():
    with pytest.raises(ValueError, match="start_k"):
        EventConfig(start_k=5, start_n=2)

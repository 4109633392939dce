"""A track's evidence: one score decides nothing, a person who stops keeps being one, a car is not one."""
from camera_node.tracks import SCORE_HISTORY, Track, TrackRules
from models.inference.preprocess import Box

RULES = TrackRules(threshold=0.8, min_score=0.5, confirm_hits=2, max_speed=4.0)


def walker(t: float, height: float = 100.0, speed: float = 1.0) -> Box:
    """A person-sized box moving right at ``speed`` of its heights a second."""
    return Box(10 + speed * height * t, 50, height / 3, height)


def observed(scores, boxes=walker, dt=0.1) -> Track:
    track = Track(boxes(0.0), first_seen=0.0, last_checked_frame=0)
    for i, score in enumerate(scores):
        track.observe(score, i * dt, RULES, boxes(i * dt))
    return track


def test_one_confident_score_is_not_a_person():
    assert not observed([0.95]).person
    assert not observed([0.95, 0.3, 0.3]).person  # a car roof that scored once


def test_consistent_scores_on_a_moving_region_make_a_person():
    track = observed([0.85, 0.9])
    assert track.person and track.hits == 2 and track.score == 0.875


def test_a_person_who_stops_keeps_being_one_on_lower_scores_until_the_evidence_says_otherwise():
    track = observed([0.9, 0.9, 0.9])
    for i in range(6):  # sitting still: re-checks of the box where they sit score lower
        track.observe(0.6, 1.0 + i, RULES)
    assert track.person and track.last_positive == 6.0
    for i in range(5):  # gone: the spot scores low
        track.observe(0.1, 7.0 + i, RULES)
    assert not track.person and track.last_positive == 6.0


def test_a_car_crossing_fast_is_not_a_person_however_it_scores():
    car = observed([0.95] * 6, boxes=lambda t: walker(t, height=60.0, speed=7.0))  # 10 m/s side-on
    assert not car.person
    runner = observed([0.95] * 6, boxes=lambda t: walker(t, speed=2.0))
    assert runner.person


def test_a_region_the_cnn_doubts_does_not_move_the_track():
    track = observed([0.9, 0.9])
    before = track.box
    track.observe(0.2, 0.3, RULES, Box(400, 300, 20, 20))
    assert track.box == before and track.hits == 2


def test_the_score_history_is_bounded():
    assert len(observed([0.9] * 50).scores) == SCORE_HISTORY

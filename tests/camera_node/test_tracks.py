"""A track's evidence: one score decides nothing, a person who stops keeps being one, a car is not one."""
from camera_node.tracks import AHEAD_MOST, SCORE_HISTORY, Track, TrackRules
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
    assert track.person and track.score == 0.875


def test_a_far_walker_whose_scores_hover_below_the_threshold_is_a_person_once_k_of_them_reach_it():
    # a 30 px tall walker: most scores between min_score and the threshold, some above (median 0.79 < 0.8)
    hovering = [0.59, 0.79, 0.77, 0.63, 0.94, 0.81]
    assert observed(hovering[:5]).person is False  # one score at the threshold: not yet
    assert observed(hovering).person


def test_two_confident_scores_among_doubtful_ones_are_not_a_person():
    assert not observed([0.95, 0.3, 0.2, 0.9, 0.3]).person  # median 0.3: a car roof that scored twice


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


def test_a_track_can_be_asked_more_looks_than_confident_scores():
    three_looks = TrackRules(threshold=0.8, min_score=0.5, confirm_hits=2, max_speed=4.0, looks=3)

    def persons(scores: list[float], rules: TrackRules) -> list[bool]:
        track = Track(walker(0.0), first_seen=0.0, last_checked_frame=0)
        return [track.observe(s, 0.1 * i, rules, walker(0.1 * i)) and track.person for i, s in enumerate(scores)]

    assert persons([0.9, 0.9, 0.9], RULES) == [False, True, True]
    assert persons([0.9, 0.9, 0.9], three_looks) == [False, False, True]
    assert persons([0.9, 0.6, 0.9], three_looks) == [False, False, True]  # the third look need not be confident


def test_a_region_the_cnn_doubts_does_not_move_the_track():
    track = observed([0.9, 0.9])
    before = track.box
    track.observe(0.2, 0.3, RULES, Box(400, 300, 20, 20))
    assert track.box == before


def test_a_part_of_the_person_moving_on_its_own_does_not_shrink_the_track_to_it():
    track = observed([0.9, 0.9])
    whole = track.box
    legs = Box(whole.x, whole.y + 0.6 * whole.h, whole.w, 0.4 * whole.h)
    assert track.observe(0.7, 0.3, RULES, legs)  # evidence that they are there ...
    assert track.box == whole  # ... but the person is still the whole box, which a re-check will look at


def test_someone_walking_out_of_a_spot_does_not_shrink_the_track_to_what_is_left_of_them():
    # still-tud-stadtmitte: the person leaves, the moving region shrinks by under half a step at a time while the
    # CNN doubts it; the track must not end up on a scrap of pavement that a re-check would keep scoring at 0.6
    track = Track(Box(256, 96, 96, 168), first_seen=0.0, last_checked_frame=0)
    for i, (box, score) in enumerate([(Box(256, 96, 96, 168), 0.88), (Box(256, 96, 96, 168), 0.9),
                                      (Box(256, 96, 96, 96), 0.62), (Box(272, 128, 80, 64), 0.68),
                                      (Box(296, 144, 56, 48), 0.76)]):
        track.observe(score, i * 0.1, RULES, box)
    assert track.box == Box(256, 96, 96, 96)  # the last box of at least half the size they were confidently seen at


def test_a_part_that_scores_high_is_still_a_part_not_the_whole_person():
    # someone who stopped: only their arm moves, and the CNN is sure of it; the next smaller part must not shrink
    # the track either (a re-check of the arm's box alone would soon score low and lose them)
    track = Track(Box(0, 0, 40, 120), first_seen=0.0, last_checked_frame=0)
    for i in range(2):
        track.observe(0.9, i * 0.1, RULES, Box(0, 0, 40, 120))
    track.observe(0.95, 0.2, RULES, Box(5, 60, 30, 50))
    track.observe(0.7, 0.3, RULES, Box(10, 70, 20, 40))
    assert track.box == Box(0, 0, 40, 120)


def walked_right_at_7fps() -> Track:
    """Someone seen whole walking right on three frames at 7 fps (the issue's camera, still-tud-campus), last at
    608,264,68x160."""
    track = Track(Box(560, 264, 68, 160), first_seen=0.0, last_checked_frame=0)
    for i, x in enumerate((560, 584, 608)):
        track.observe(0.92, i / 7, RULES, Box(x, 264, 68, 160))
    return track


def test_a_part_of_where_a_person_walked_on_to_is_still_a_part():
    # the camera at night (still-tud-campus): seen whole, then walking on in a region the CNN is less sure
    # of; as they stop only their legs move, centred just outside where they were seen whole: still a part of them
    track = walked_right_at_7fps()
    walked_on = Box(628, 272, 80, 156)
    assert track.observe(0.64, 3 / 7, RULES, walked_on) and track.box == walked_on
    assert track.observe(0.56, 4 / 7, RULES, Box(648, 348, 60, 80))  # their legs: evidence that they are there ...
    assert track.box == walked_on  # ... but not the box a re-check of them should look at


def test_a_part_of_a_person_who_stops_moves_their_box_by_the_least_that_holds_it():
    # the suite's dusk view (still-tud-campus): seen whole, then a step on in a region the CNN is less sure of, they
    # stop and only their legs move, a little ahead of that region: they are where a box of their size holds the legs
    track = Track(Box(432, 216, 72, 140), first_seen=0.0, last_checked_frame=0)
    for i, x in enumerate((432, 456, 480)):
        track.observe(0.92, i / 10, RULES, Box(x, 216, 72, 140))
    assert track.observe(0.7, 0.3, RULES, Box(504, 220, 60, 136))
    assert track.observe(0.77, 0.4, RULES, Box(536, 288, 36, 68))
    assert track.box == Box(512, 220, 60, 136)


def test_a_part_where_a_persons_walk_puts_them_is_a_part_of_them():
    # the camera at dusk (still-tud-campus): seen whole walking right, they stop a step on; their legs,
    # centred 2 px past the box they were last seen in, lie where their walk puts them now: a part of them
    track = walked_right_at_7fps()
    legs = Box(648, 348, 60, 80)
    assert not track.observe(0.45, 3 / 7, RULES, legs) and len(track.scores) == 3  # a doubt on a part: not counted
    assert track.observe(0.5, 4 / 7, RULES, legs) and track.box == Box(640, 268, 68, 160)


def test_doubts_on_a_part_of_a_person_do_not_count_against_them():
    # someone stops and only their legs still move: a crop of the legs scores low, but says little of the person
    track = observed([0.9, 0.9])
    legs = Box(track.box.x, track.box.y + 0.6 * track.box.h, track.box.w, 0.4 * track.box.h)
    for i in range(5):
        assert not track.observe(0.35, 0.2 + 0.1 * i, RULES, legs)  # no evidence for them either
    assert track.person and track.score == 0.9
    for i in range(5):  # the same doubts on their own box are evidence: no longer a person
        track.observe(0.35, 0.7 + 0.1 * i, RULES, track.box)
    assert not track.person


def test_the_score_history_is_bounded():
    assert len(observed([0.9] * 50).scores) == SCORE_HISTORY


def test_a_person_the_cnn_doubts_for_a_frame_is_still_followed_where_they_walk():
    # a walker's score dips under min_score as they turn: the region that continues theirs still shows where they are
    track = observed([0.9, 0.9])
    assert track.person
    moved_on = Box(track.box.x + 10, track.box.y, track.box.w, track.box.h)
    assert not track.observe(0.4, 0.2, RULES, moved_on)  # no evidence ...
    assert track.box == moved_on and track.last_positive == 0.1  # ... but the track is where they went


def test_a_doubtful_region_barely_touching_a_person_does_not_drag_their_track_away():
    track = observed([0.9, 0.9])
    where = track.box
    passer_by = Box(where.x + 0.8 * where.w, where.y, where.w, where.h)  # overlaps a fifth of them
    track.observe(0.3, 0.2, RULES, passer_by)
    assert track.box == where


def test_doubts_on_a_region_holding_a_person_and_more_do_not_count_against_them():
    # someone walks in beside a person and their blobs merge: the crop of both scores low, but says little of the person
    track = observed([0.9, 0.9])
    both = Box(track.box.x - track.box.w, track.box.y - 10, 3 * track.box.w, track.box.h + 20)
    where = track.box
    for i in range(5):
        track.observe(0.35, 0.2 + 0.1 * i, RULES, both)
    assert track.person and track.score == 0.9
    assert track.observe(0.6, 0.65, RULES, both) and track.box == where  # evidence, but the track stays on them
    for i in range(5):  # the same doubts on their own region are evidence: no longer a person
        track.observe(0.35, 0.7 + 0.1 * i, RULES, track.box)
    assert not track.person


def test_a_region_holding_a_person_and_more_is_judged_so_even_with_their_centre_a_step_outside_it():
    # the camera mirrored (still-tud-campus): they stop beside people standing at the frame border and their
    # blobs merge into one region ending 2 px short of the centre of the box the track last placed them in (where
    # they walked); its doubts must not take their median down, nor a score over min_score move the track onto it
    track = observed([0.9, 0.9], boxes=lambda t: Box(80, 252, 84, 180))
    track.moved = True
    both = Box(0, 224, 120, 340)
    for i in range(5):
        assert not track.observe(0.45, 0.2 + 0.1 * i, RULES, both)
    assert track.person and track.score == 0.9
    assert track.observe(0.55, 0.7, RULES, both) and track.box == Box(80, 252, 84, 180)


def test_a_region_that_has_not_moved_since_it_appeared_is_not_confirmed_however_it_scores():
    # what a scene cut leaves in a corner (a shop window at night) scores 0.81-0.86 on the same box frame after frame:
    # the same crop again is not new evidence, and a person does not appear without moving
    track = observed([0.86, 0.85, 0.86, 0.84, 0.86], boxes=lambda t: Box(0, 0, 80, 208))
    assert not track.person
    track.observe(0.86, 0.6, RULES, Box(10, 0, 80, 208))  # it moves: the evidence counts
    assert track.person


def test_a_track_seen_moving_is_expected_where_its_motion_since_first_seen_puts_it():
    track = Track(Box(100, 200, 50, 140), first_seen=0.0, last_checked_frame=0)
    track.observe(0.9, 0.0, RULES, Box(100, 200, 50, 140))
    assert track.ahead(0.4) is None  # seen moving once: no motion yet
    track.observe(0.9, 0.2, RULES, Box(130, 200, 50, 140))  # 150 px a second
    assert track.ahead(0.6) == Box(190, 200, 50, 140)
    assert track.ahead(0.2 + AHEAD_MOST + 0.1) is None  # long since seen moving: they may have stopped

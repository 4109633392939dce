"""The person stage runs the CNN only where needed and keeps tracks honest."""
import numpy as np

from camera_node.config import DetectorConfig
from camera_node.person import PersonStage, Track
from models import SHIPPED_MODEL
from models.inference import TfliteClassifier
from models.inference.preprocess import Box

GRAY = np.random.default_rng(0).integers(0, 255, (240, 320), dtype=np.uint8)


def stage(threshold=0.5, **cfg):
    return PersonStage(DetectorConfig(**cfg), TfliteClassifier(SHIPPED_MODEL), threshold, person_scale=2)


def test_no_proposals_and_no_tracks_means_no_decode_and_no_cnn():
    s = stage()
    decoded = []
    assert s.process(0, 0.0, [], lambda: decoded.append(1) or GRAY, 10, lambda b: 1.0) == []
    assert not decoded and s.inferences == 0


def test_each_proposal_is_classified_within_the_budget():
    s = stage(max_inferences_per_frame=3)
    boxes = [Box(10 * i, 10, 40, 100) for i in range(5)]
    dets = s.process(0, 0.0, boxes, lambda: GRAY, budget_left=2, foreground=lambda b: 1.0)
    assert len(dets) == 2 and s.inferences == 2 and all(0 <= d.score <= 1 for d in dets)


def test_tracks_are_rechecked_every_n_frames_without_motion():
    s = stage(threshold=0.0, recheck_every=3)  # threshold 0: every crop is a "person"
    s.tracks = [Track(Box(100, 100, 40, 100), 0.9, 0.0, 0)]
    ran = [len(s.process(i, i / 10, [], lambda: GRAY, 10, lambda b: 1.0)) for i in range(1, 10)]
    assert ran == [0, 0, 1, 0, 0, 1, 0, 0, 1]


def test_a_recheck_on_empty_background_does_not_count():
    s = stage(threshold=0.0, recheck_every=1, track_ttl=0.25)
    s.tracks = [Track(Box(100, 100, 40, 100), 0.9, 0.0, 0)]
    dets = s.process(1, 0.1, [], lambda: GRAY, 10, foreground=lambda b: 0.0)
    assert len(dets) == 1 and not dets[0].person and dets[0].from_track
    s.process(2, 0.2, [], lambda: GRAY, 10, foreground=lambda b: 0.0)
    s.process(3, 0.3, [], lambda: GRAY, 10, foreground=lambda b: 0.0)
    assert s.tracks == []  # expired after track_ttl without a counted positive


def test_a_standing_person_keeps_the_track():
    s = stage(threshold=0.0, recheck_every=1, track_ttl=0.25)
    s.tracks = [Track(Box(100, 100, 40, 100), 0.9, 0.0, 0)]
    for i in range(1, 20):
        s.process(i, i / 10, [], lambda: GRAY, 10, foreground=lambda b: 0.6)
    assert len(s.tracks) == 1

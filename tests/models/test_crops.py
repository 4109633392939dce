"""Crop sampling: positives around boxes, negatives that touch no person, hard negatives from motion."""
import numpy as np

from models.data.crops import (
    CropSet,
    Jitter,
    edge_density,
    hard_negative_boxes,
    jitter_box,
    motion_boxes,
    moving_region_crops,
    negative_boxes,
    negative_crops,
    positive_crops,
)
from models.data.mot import iter_video_gray
from models.data.regions import build_region_set, moving_region_set
from models.data.types import LabelledFrame
from models.inference.preprocess import Box
from tests.conftest import person_scene


def frame_with_people(seed=0):
    rng = np.random.default_rng(seed)
    image, boxes = person_scene(rng, people=3)
    return LabelledFrame("f", image, [Box(*b) for b in boxes], "g")


def test_negative_squares_never_touch_a_person_box():
    frame = frame_with_people()
    squares = negative_boxes(frame, np.random.default_rng(1), count=50)
    assert squares
    assert not any(s.intersects(b) for s in squares for b in frame.boxes)
    h, w = frame.image.shape
    assert all(0 <= s.x and s.x + s.w <= w and 0 <= s.y and s.y + s.h <= h for s in squares)


def test_a_frame_full_of_person_yields_no_negatives():
    frame = LabelledFrame("f", np.zeros((100, 100), np.uint8), [Box(0, 0, 100, 100)])
    assert negative_boxes(frame, np.random.default_rng(0), 5) == []


def test_positive_crops_one_per_box_or_variants_when_jittered():
    frame = frame_with_people()
    exact = positive_crops(frame, 32)
    jittered = positive_crops(frame, 32, np.random.default_rng(0), variants=3, jitter=Jitter())
    assert len(exact) == 3 and exact.labels.all() and exact.images.shape[1:] == (32, 32)
    assert len(jittered) == 9 and not np.array_equal(jittered.images[0], jittered.images[1])


def test_tiny_boxes_are_skipped():
    frame = LabelledFrame("f", np.zeros((100, 100), np.uint8), [Box(10, 10, 4, 8)])
    assert len(positive_crops(frame, 32, min_height=16)) == 0


def test_jitter_keeps_the_box_near_the_person():
    rng = np.random.default_rng(0)
    box = Box(100, 100, 30, 90)
    for _ in range(200):
        b, context = jitter_box(box, rng, Jitter())
        assert b.intersects(box) and 1.1 <= context <= 1.6
        assert 0.55 * 90 - 1e-6 <= b.h <= 90


def test_jitter_never_shifts_a_thin_border_box_out_of_the_frame():
    frame = LabelledFrame("f", np.zeros((320, 320), np.uint8), [Box(316.5, 120, 3.5, 32)])  # clipped by the border
    crops = positive_crops(frame, 32, np.random.default_rng(0), variants=300, jitter=Jitter(shift=0.5))
    assert len(crops) == 300


def test_motion_boxes_find_what_moved():
    prev = np.full((100, 100), 100, np.uint8)
    cur = prev.copy()
    cur[40:60, 20:50] = 220
    (box,) = motion_boxes(prev, cur)
    assert box.intersects(Box(20, 40, 30, 20)) and box.w < 60


def test_moving_regions_of_a_real_video_are_negatives(moving_video):
    crops = moving_region_crops(iter_video_gray(moving_video), 24, np.random.default_rng(0), "cars")
    assert len(crops) > 10 and not crops.labels.any() and (crops.groups == "cars").all()


def test_crop_sets_round_trip_through_npz(tmp_path):
    frame = frame_with_people()
    crops = CropSet.concat([positive_crops(frame, 16), negative_crops(frame, 16, np.random.default_rng(0), 4)])
    crops.save(tmp_path / "c.npz")
    loaded = CropSet.load(tmp_path / "c.npz")
    assert np.array_equal(loaded.images, crops.images) and list(loaded.labels) == [1, 1, 1, 0, 0, 0, 0]


def test_region_sets_cut_negatives_to_exactly_their_square():
    frame = frame_with_people()
    regions = build_region_set([frame], negatives_per_frame=3, min_height=16)
    labels = regions.label_array
    assert labels.sum() == 3 and (labels == 0).sum() == 3
    crops = regions.crops(20)
    assert crops.shape == (6, 20, 20)


def test_hard_negatives_are_box_free_and_more_textured_than_random_squares():
    frame = frame_with_people(4)
    hard = hard_negative_boxes(frame, np.random.default_rng(2), count=6)
    easy = negative_boxes(frame, np.random.default_rng(2), count=6)
    assert len(hard) == 6
    assert not any(h.intersects(b) for h in hard for b in frame.boxes)
    assert np.mean([edge_density(frame.image, b) for b in hard]) > np.mean([edge_density(frame.image, b) for b in easy])


def test_a_person_free_videos_moving_regions_are_negatives_cut_at_the_nodes_context(moving_video):
    regions = moving_region_set(iter_video_gray(moving_video), "cars")
    assert len(regions) > 10 and not regions.label_array.any()
    assert all(b.w < 60 for b in regions.boxes)  # the moving block, not whole frames

"""The crop the node feeds the CNN."""
import numpy as np
import pytest

from models.inference.preprocess import DEFAULT_CONTEXT, Box, CropFit, crop_region, whole_image_box


def gradient(h=100, w=200):
    return np.tile(np.arange(w, dtype=np.uint8), (h, 1))


def test_square_crop_is_centred_on_the_box_with_context():
    frame = np.zeros((200, 200), np.uint8)
    frame[80:120, 90:110] = 255  # a 20x40 "person"
    crop = crop_region(frame, Box(90, 80, 20, 40), size=50, context=1.25)
    assert crop.shape == (50, 50) and crop.dtype == np.uint8
    rows, cols = np.nonzero(crop > 128)
    # 40 px box in a 50 px square: it spans 80% of the height, centred.
    assert rows.min() == pytest.approx(5, abs=1) and rows.max() == pytest.approx(44, abs=1)
    assert cols.mean() == pytest.approx(24.5, abs=1)


def test_regions_at_the_border_take_their_context_from_inside_the_frame():
    frame = gradient()
    crop = crop_region(frame, Box(-20, 10, 40, 40), size=40, context=1.0)
    assert (crop == frame[10:50, 0:40]).all()  # shifted inside: no smeared edge pixels
    crop = crop_region(frame, Box(180, 70, 30, 30), size=40, context=1.25)
    assert crop[:, -1].min() >= 190  # the right edge of the frame, not beyond it


def test_regions_larger_than_the_frame_replicate_the_edge():
    frame = gradient(20, 200)
    crop = crop_region(frame, Box(0, 0, 40, 20), size=40, context=1.25)  # a 50 px square in a 20 px tall frame
    assert (crop[0] == crop[5]).all() and (crop[-1] == crop[-6]).all()


def test_letterbox_pads_with_mid_grey_and_stretch_fills():
    frame = np.full((100, 100), 255, np.uint8)
    box = Box(40, 10, 20, 80)
    letter = crop_region(frame, box, 32, context=1.0, fit=CropFit.LETTERBOX)
    stretch = crop_region(frame, box, 32, context=1.0, fit=CropFit.STRETCH)
    assert (letter[:, 0] == 128).all() and (letter[:, 16] == 255).all()
    assert (stretch == 255).all()


def test_whole_image_box_covers_the_image():
    img = gradient(30, 60)
    assert whole_image_box(img) == Box(0, 0, 60, 30)
    assert crop_region(img, whole_image_box(img), 16, context=1.0).shape == (16, 16)


@pytest.mark.parametrize("bad", [Box(0, 0, 0, 10), Box(0, 0, 10, -1)])
def test_empty_boxes_are_rejected(bad):
    with pytest.raises(ValueError, match="empty box"):
        crop_region(gradient(), bad, 16)


def test_regions_entirely_off_frame_are_rejected():
    with pytest.raises(ValueError, match="outside"):
        crop_region(gradient(), Box(500, 500, 10, 10), 16, context=1.0)


def test_colour_frames_are_rejected():
    with pytest.raises(ValueError, match="grayscale"):
        crop_region(np.zeros((10, 10, 3), np.uint8), Box(0, 0, 5, 5), 8)


def test_default_context_is_what_the_model_card_states():
    assert DEFAULT_CONTEXT == 1.25


def test_the_union_of_two_boxes_holds_both_and_nothing_more():
    assert Box(10, 20, 5, 5).union(Box(30, 0, 10, 10)) == Box(10, 0, 30, 25)


def test_a_shifted_box_keeps_its_size():
    assert Box(10, 20, 40, 20).shifted(5, -20) == Box(15, 0, 40, 20)


def test_a_box_shifted_to_hold_another_moves_by_the_least_that_puts_it_inside():
    box = Box(608, 264, 68, 160)
    assert box.shifted_to_hold(Box(648, 348, 60, 80)) == Box(640, 268, 68, 160)  # right by 32, down by 4
    assert box.shifted_to_hold(Box(600, 250, 20, 20)) == Box(600, 250, 68, 160)  # left and up
    assert box.shifted_to_hold(Box(620, 300, 20, 20)) == box  # inside already: not moved
    assert box.shifted_to_hold(Box(700, 300, 100, 20)) == Box(716, 264, 68, 160)  # wider than it: centred on it


def test_a_grown_box_keeps_its_centre():
    assert Box(10, 20, 40, 20).grown(10, 5) == Box(0, 15, 60, 30)


def test_a_box_names_the_frame_borders_it_reaches_within_a_margin():
    assert Box(0, 10, 20, 20).borders(100, 50) == (True, False, False, False)
    assert Box(5, 10, 20, 38).borders(100, 50, margin=2) == (False, False, False, True)
    assert Box(3, 3, 94, 44).borders(100, 50, margin=3) == (True, True, True, True)

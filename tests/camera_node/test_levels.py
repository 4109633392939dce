"""A dark, flat frame is stretched before person crops are cut from it; a well-exposed one is cut as it is."""
import cv2
import numpy as np

from camera_node.levels import HYSTERESIS, DarkScene, contrast, stretch_table, stretched
from camera_node.scenario import NIGHT, load_sequence
from models import SHIPPED_MODEL
from models.inference import TfliteClassifier, crop_region
from models.inference.model_info import operating_threshold
from models.inference.preprocess import Box

RNG = np.random.default_rng(0)


def at_night(day: np.ndarray) -> np.ndarray:
    """``day`` as the suite's night camera renders it: a third of the contrast, a lifted black level, more noise."""
    night = day * NIGHT.gain + NIGHT.offset + RNG.normal(0.0, NIGHT.noise, day.shape)
    return np.clip(np.rint(night), 0, 255).astype(np.uint8)


def test_a_well_exposed_frame_is_cut_as_it_is():
    day = RNG.integers(0, 256, (120, 160), dtype=np.uint8)
    assert stretch_table(day, 0.5) is None
    assert stretched(None, day) is day


def test_a_dark_flat_frame_is_mapped_onto_the_full_range():
    night = at_night(RNG.integers(0, 256, (120, 160)).astype(np.float32))
    table = stretch_table(night, 0.5)
    assert table is not None and table.dtype == np.uint8 and table.shape == (256,)
    out = stretched(table, night)
    dark, bright = np.percentile(out, [1, 99])
    assert dark <= 2 and bright >= 253  # the frame's 1st-99th percentile now spans 0-255
    assert np.all(np.diff(table.astype(int)) >= 0)  # order of grey levels kept


def test_a_masked_timestamp_strip_does_not_keep_a_night_frame_from_being_stretched():
    night = at_night(RNG.integers(0, 256, (120, 160)).astype(np.float32))
    night[:8, :60] = 255  # the camera's white timestamp text, 2.5% of the frame
    watched = np.ones(night.shape, bool)
    watched[:8, :60] = False  # masked (motion.masks)
    assert stretch_table(night, 0.5) is None  # the text sets the span: the frame looks well exposed
    assert stretch_table(night, 0.5, watched) is not None


def test_the_contrast_of_a_dark_flat_frame_is_the_share_of_the_range_it_spans_and_a_well_exposed_ones_is_whole():
    night = at_night(RNG.integers(0, 256, (120, 160)).astype(np.float32))
    dark, bright = np.percentile(night, [1, 99])
    assert abs(contrast(night, 0.5) - (bright - dark) / 255) < 0.01
    assert contrast(RNG.integers(0, 256, (120, 160), dtype=np.uint8), 0.5) == 1.0
    assert contrast(night, 0.0) == 1.0  # stretching off: the frame is taken as it is


def spanning(share: float) -> np.ndarray:
    """A frame whose 1st-99th percentile spans about ``share`` of 0-255, on a black level of 40."""
    return np.clip(np.rint(40 + share * 255 * RNG.random((120, 160))), 0, 255).astype(np.uint8)


def test_a_scene_spanning_about_stretch_below_is_not_cut_as_it_is_on_one_frame_and_stretched_on_the_next():
    """As a camera's day/night switch: dark once the span falls under stretch_below, light again only once it rises
    over stretch_below + HYSTERESIS (a scene at dusk spans about half the range)."""
    scene = DarkScene(0.5)
    dusk = [scene.stretch_table(spanning(share)) is not None for share in (0.55, 0.48, 0.53, 0.47, 0.56, 0.52)]
    assert dusk == [False, True, True, True, True, True]
    assert scene.stretch_table(spanning(0.5 + HYSTERESIS + 0.05)) is None  # light again
    assert scene.stretch_table(spanning(0.55)) is None
    scene = DarkScene(0.5)
    assert [scene.contrast(spanning(share)) < 1.0 for share in (0.55, 0.48, 0.53)] == [False, True, True]
    assert DarkScene(0.0).stretch_table(spanning(0.2)) is None  # stretching off


def test_stretching_can_be_switched_off():
    night = at_night(RNG.integers(0, 256, (120, 160)).astype(np.float32))
    assert stretch_table(night, 0.0) is None


def test_people_in_a_night_frame_score_as_by_day_once_it_is_stretched(shared_data):
    # MOT15 person crops: by day most reach the threshold; under the night look most do not; stretched, they do again
    seq = load_sequence(shared_data / "mot15" / "TUD-Stadtmitte")
    classifier = TfliteClassifier(SHIPPED_MODEL)
    threshold = operating_threshold(SHIPPED_MODEL)
    recall = {}
    for look in ("day", "night", "stretched"):
        crops = []
        for index in range(0, len(seq.frames), 20):
            day = cv2.cvtColor(seq.frames[index], cv2.COLOR_BGR2GRAY)
            frame = day if look == "day" else at_night(day.astype(np.float32))
            if look == "stretched":
                frame = stretched(stretch_table(frame[::4, ::4], 0.5), frame)
            crops += [crop_region(frame, Box(*boxes[index]), classifier.input_size)
                      for boxes in seq.tracks.values() if index in boxes and boxes[index][3] >= 60]
        recall[look] = float((classifier.predict(np.stack(crops)) >= threshold).mean())
    assert recall["night"] < recall["day"] - 0.2
    assert recall["stretched"] >= recall["day"] - 0.05

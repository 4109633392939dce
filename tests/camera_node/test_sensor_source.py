"""Frames come with index and time; the sensor is a JPEG decoded at DCT scale."""
import logging
import threading
import time

import cv2
import numpy as np
import pytest

from camera_node.sensor import CorruptFrame, Sensor
from camera_node.source import FrameSource, SourceError
from tests.conftest import write_avi


def test_video_frames_carry_index_and_simulated_time(tmp_path):
    path = write_avi(tmp_path / "v.avi", [np.full((48, 64), i * 10, np.uint8) for i in range(6)], fps=5)
    src = FrameSource(str(path), start_time=1000.0)
    frames = list(src)
    assert [f.index for f in frames] == list(range(6)) and src.frame_count == 6
    assert [f.timestamp for f in frames] == pytest.approx([1000 + i / 5 for i in range(6)])
    assert frames[0].image.shape == (48, 64, 3)


def test_image_folders_skip_unreadable_files(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.jpg"), np.zeros((20, 20, 3), np.uint8))
    (tmp_path / "1.jpg").write_bytes(b"broken")
    src = FrameSource(str(tmp_path), fps=2)
    assert [f.index for f in src] == [0, 2] and src.skipped == 1


def test_a_stopped_image_folder_ends_after_the_current_image(tmp_path):
    """`node run` on a folder: a service stop ends it, not the last of its images (paced at the fps, hours away)."""
    for i in range(5):
        cv2.imwrite(str(tmp_path / f"{i}.jpg"), np.zeros((20, 20, 3), np.uint8))
    src = FrameSource(str(tmp_path), fps=2)
    indices = []
    for frame in src:
        indices.append(frame.index)
        if len(indices) == 2:
            src.stop()
    assert indices == [0, 1]


def test_a_live_stream_that_drops_is_reopened_and_indices_carry_on(tmp_path):
    video = write_avi(tmp_path / "stream.avi", [np.full((48, 64), i * 30, np.uint8) for i in range(5)])
    src = FrameSource(f"file://{video}", reconnect_delay=0.05)  # a URL: live, its end is a dropped stream
    assert src.live
    indices = []
    for frame in src:
        indices.append(frame.index)
        if len(indices) == 12:
            src.stop()
    assert indices == list(range(12)) and src.reconnects == 2


def test_a_live_frame_carries_the_wall_clock_and_a_steady_clock_that_no_clock_step_moves(tmp_path):
    video = write_avi(tmp_path / "stream.avi", [np.zeros((48, 64), np.uint8)] * 4)
    before_wall, before_steady = time.time(), time.monotonic()
    frames = list(FrameSource(f"file://{video}", reconnect_delay=None))
    assert all(before_wall <= f.timestamp <= time.time() for f in frames)
    assert all(before_steady <= f.clock <= time.monotonic() for f in frames)
    assert [f.clock for f in frames] == sorted(f.clock for f in frames)


def test_a_files_frames_run_on_its_own_timeline_for_both_clocks(tmp_path):
    video = write_avi(tmp_path / "clip.avi", [np.zeros((48, 64), np.uint8)] * 3, fps=5.0)
    assert [(f.timestamp, f.clock) for f in FrameSource(str(video), start_time=1000.0)] == [(1000.0, 1000.0), (1000.2, 1000.2), (1000.4, 1000.4)]


def test_without_reconnection_a_live_stream_ends_where_it_drops(tmp_path):
    video = write_avi(tmp_path / "stream.avi", [np.zeros((48, 64), np.uint8)] * 4)
    src = FrameSource(f"file://{video}", reconnect_delay=None)  # `node simulate`: run to the end of what comes
    assert [f.index for f in src] == [0, 1, 2, 3] and src.reconnects == 0


def test_a_stopped_live_source_ends_while_waiting_to_reconnect(tmp_path):
    video = write_avi(tmp_path / "stream.avi", [np.zeros((48, 64), np.uint8)] * 3)
    src = FrameSource(f"file://{video}", reconnect_delay=30.0)
    frames = iter(src)
    assert [next(frames).index for _ in range(3)] == [0, 1, 2]
    threading.Timer(0.2, src.stop).start()  # a service stop (SIGTERM) during the 30 s backoff
    assert list(frames) == [] and src.reconnects == 1


def test_a_missing_source_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        FrameSource(str(tmp_path / "nope.avi"))


def test_the_sensor_jpeg_decodes_at_a_reduced_scale():
    sensor = Sensor(640, 480, 80)
    jpeg = sensor.capture(np.random.default_rng(0).integers(0, 255, (576, 768, 3), dtype=np.uint8))
    assert jpeg[:2] == b"\xff\xd8"
    assert sensor.decode_gray(jpeg, 8).shape == (60, 80)
    assert sensor.decode_gray(jpeg, 2).shape == (240, 320)
    assert sensor.counters.decodes == {8: 1, 2: 1} and sensor.counters.pixels[8] == 4800


def test_a_source_of_another_shape_than_the_sensor_is_said_once(caplog):
    """A 16:9 camera on the default 4:3 sensor size is stretched (people come out wider, and score and move
    unlike the people the rules were measured on): the node says so, once, and what to set."""
    sensor = Sensor(640, 480, 80)
    wide = np.zeros((720, 1280, 3), np.uint8)
    with caplog.at_level(logging.WARNING, logger="camera_node.sensor"):
        for _ in range(3):
            sensor.capture(wide)
        sensor.capture(np.zeros((576, 768, 3), np.uint8))  # 4:3 like the sensor: scaled, not stretched
    (record,) = caplog.records
    assert "1280x720" in record.getMessage() and "sensor.width" in record.getMessage()


def test_a_corrupt_jpeg_is_reported():
    with pytest.raises(CorruptFrame):
        Sensor(64, 48, 80).decode_gray(b"\xff\xd8 not a jpeg", 8)

"""The MJPEG AVI writer stores JPEGs as they are, in a file players open."""
import cv2
import numpy as np

from camera_node.avi import MjpegAviWriter, avi_size
from camera_node.scenario import read_video


def jpegs(n, size=(96, 64)):
    out = []
    for i in range(n):
        img = np.full((size[1], size[0], 3), 20 * i % 255, np.uint8)
        cv2.putText(img, str(i), (10, 50), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 2)
        out.append(cv2.imencode(".jpg", img)[1].tobytes())
    return out


def test_opencv_reads_back_every_frame_at_the_right_rate(tmp_path):
    data = jpegs(12)
    w = MjpegAviWriter(tmp_path / "c.avi", 96, 64, 7.0)
    for j in data:
        w.write(j)
    size = w.close()
    frames, fps = read_video(tmp_path / "c.avi")
    assert len(frames) == 12 and fps == 7.0 and frames[0].shape == (64, 96, 3)
    assert size == (tmp_path / "c.avi").stat().st_size == avi_size([len(j) for j in data])


def test_close_can_cut_the_tail(tmp_path):
    data = jpegs(10)
    w = MjpegAviWriter(tmp_path / "c.avi", 96, 64, 5.0)
    for j in data:
        w.write(j)
    w.close(keep=4)
    frames, _ = read_video(tmp_path / "c.avi")
    assert len(frames) == 4
    assert (tmp_path / "c.avi").stat().st_size == avi_size([len(j) for j in data[:4]])


def test_frames_are_stored_byte_for_byte(tmp_path):
    data = jpegs(3)
    w = MjpegAviWriter(tmp_path / "c.avi", 96, 64, 5.0)
    for j in data:
        w.write(j)
    w.close()
    blob = (tmp_path / "c.avi").read_bytes()
    assert all(j in blob for j in data)

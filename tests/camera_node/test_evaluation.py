"""Scoring a recorder against ground truth (camera_node.evaluation)."""
import numpy as np

from camera_node.evaluation import SimEvent, score


def test_a_person_free_clip_has_no_frame_recall_to_report():
    presence = np.zeros(100, bool)
    m = score([], [], presence, fps=10.0, continuous_bytes=1000)
    assert m["frame_recall"] is None and m["median_alert_latency_s"] is None
    assert m["false_alerts"] == 0 and m["storage_saved"] == 1.0


def test_frame_recall_counts_the_person_frames_inside_clips():
    presence = np.zeros(100, bool)
    presence[20:40] = True
    m = score([SimEvent(25, 25, 15, 29, 100)], [(20, 39)], presence, fps=10.0, continuous_bytes=1000)
    assert m["frame_recall"] == 0.5 and m["events_caught"] == 1 and m["median_alert_latency_s"] == 0.5

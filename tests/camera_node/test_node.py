"""The node as a whole: analysis at a lower rate than capture, the CNN paced as the ESP32 runs it, and a reboot
mid-event (the interrupted event is ended on the next start and its id is never reused)."""
import json
import uuid

import cv2
import numpy as np
import pytest

import contract
from camera_node.config import NodeConfig
from camera_node.events import Event, EventChange
from camera_node.node import OPEN_EVENT_JOURNAL, Node
from camera_node.publisher import Publisher
from camera_node.recorder import ClipInfo
from camera_node.source import Frame, FrameSource
from camera_node.spool import Spool
from models.inference.preprocess import Box
from tests.camera_node.test_motion import NIGHT_WARMUP, night_walk
from tests.camera_node.test_publisher import Collector
from tests.conftest import fill, read_only, tmpfs, write_avi


def trigger_happy(camera: str) -> NodeConfig:
    """Every moving blob counts as a person (threshold near 0), so the drifting block opens an event."""
    return NodeConfig(camera_id=camera, detector={"threshold": 0.001}, events={"start_k": 2, "start_n": 3, "update_every": 0.2})


def run_until_open_event(node: Node, video) -> str:
    for frame in FrameSource(str(video), start_time=0.0):  # the same clock after each boot: no NTP yet
        node.process(frame)
        if node.events.current is not None and node.events.current.seq >= 1:
            return node.events.current.event_id
    raise AssertionError("no event opened")


def test_analysis_at_a_lower_rate_still_records_every_frame(tmp_path, moving_video):
    cfg = trigger_happy("cam1").model_copy(update={"motion": NodeConfig(motion={"analysis_fps": 5}).motion})
    node = Node(cfg, tmp_path, 10.0, trace=True)
    for frame in FrameSource(str(moving_video), start_time=0.0):  # 24 frames at 10 fps
        node.process(frame)
    node.finish()
    report = node.report()
    assert report["frames"] == report["ledger"]["frames"] == 24 and report["analysed_frames"] == 12
    assert report["cnn_frames"] <= 12 and report["events"] == 1
    (record,) = node.trace.events
    clip = FrameSource(str(tmp_path / record["clip"]))
    assert sum(1 for _ in clip) == record["clip_last_frame"] - record["clip_first_frame"] + 1  # no frame left out


def test_an_event_whose_clip_the_full_card_ended_early_still_ends_and_says_so(tmp_path, moving_video):
    """The card reaches its cap mid-event with no older clip to delete: the clip ends early and is kept, and the
    event still ends, its end message sent with the clip as far as it got (it stayed open for good)."""
    cfg = trigger_happy("cam1").model_copy(update={"recorder": NodeConfig(recorder={
        "card_max_share": 0.1, "min_free_bytes": 0, "pre_roll": 0.0}).recorder})
    with tmpfs(tmp_path / "sd", "1m") as card:
        node = Node(cfg, card, 10.0, trace=True)
        for frame in FrameSource(str(moving_video), start_time=0.0):
            node.process(frame)
        node.finish()
        assert node.report()["events"] == 1 and "ended early" in node.recorder.errors[0]
        (record,) = node.trace.events
        assert record["clip"] is not None and record["clip_first_frame"] <= record["clip_last_frame"] < 23  # as far as it got


def test_an_event_whose_clip_could_not_start_still_ends_and_says_why(tmp_path, moving_video):
    cfg = trigger_happy("cam1").model_copy(update={"recorder": NodeConfig(recorder={"min_free_bytes": 10**15}).recorder})
    node = Node(cfg, tmp_path, 10.0, trace=True)  # a card with less than a petabyte free: below min_free_bytes
    for frame in FrameSource(str(moving_video), start_time=0.0):
        node.process(frame)
    node.finish()
    (record,) = node.trace.events
    assert record["clip"] is None and "below min_free_bytes" in record["clip_error"]


def test_an_event_whose_clip_a_failed_write_lost_still_ends_and_says_why(tmp_path, moving_video):
    """The card refuses a write (ENOSPC: it filled with something else): the partial clip goes, and the event's
    end says what happened."""
    cfg = trigger_happy("cam1").model_copy(update={"recorder": NodeConfig(recorder={"min_free_bytes": 0}).recorder})
    with tmpfs(tmp_path / "sd", "64k") as card:
        node = Node(cfg, card, 10.0, trace=True)
        node.recorder.retention.max_share = 1.5  # a cap above the card: only the filesystem says no
        for frame in FrameSource(str(moving_video), start_time=0.0):
            node.process(frame)
        node.finish()
        (record,) = node.trace.events
        assert record["clip"] is None and "No space left" in record["clip_error"]


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_a_broken_card_neither_stops_the_node_nor_silences_its_alerts(tmp_path, moving_video, fault):
    """The card filled up (another app, a log) or turned read-only (a failing SD card): no clip, no thumbnail
    file, no journal can be written, yet the node keeps running and its messages (the event, its end, the
    thumbnail) go out."""
    with tmpfs(tmp_path / "card", "1m") as card:
        spool = Spool(card / "queue", 1 << 22)
        pub = Publisher("mqtt://127.0.0.1:1", "smartcam", "cam1", spool)  # never started: everything stays queued
        node = Node(trigger_happy("cam1"), card / "node", 10.0, pub, trace=True)
        if fault == "full":
            fill(card)
        else:
            read_only(card)
        for frame in FrameSource(str(moving_video), start_time=0.0):
            node.process(frame)
        node.finish()
        kinds = []
        while (item := spool.peek()) is not None:
            key, msg = item
            kinds.append(msg.topic.split("/")[2] if "/thumbnail/" in msg.topic else
                         contract.EventMessage.from_bytes(msg.payload).type if msg.topic.endswith("/events") else "other")
            spool.ack(key)
        assert kinds.count("new") == 1 and kinds.count("end") == 1 and "thumbnail" in kinds
        (record,) = node.trace.events
        assert record["clip"] is None and record["thumbnail"] is None


def test_a_threshold_set_at_run_time_is_the_one_tracks_are_confirmed_by(tmp_path, moving_video):
    """config/set raises the threshold over anything the drifting block scores: no track becomes a person, no
    alert (the old threshold kept confirming tracks: only part of the node heard of the new one)."""
    node = Node(trigger_happy("cam1"), tmp_path, 10.0, trace=True)  # threshold 0.001: the block alerts
    node.request_config(contract.ConfigSetMessage(threshold=0.999))
    for frame in FrameSource(str(moving_video), start_time=0.0):
        node.process(frame)
    node.finish()
    assert node.person.threshold == 0.999 and node.report()["events"] == 0


WALL = 1_800_000_000.0  # unix seconds: January 2027


def test_a_wall_clock_stepped_back_mid_event_changes_only_the_times_its_messages_carry(tmp_path):
    """NTP correcting a fast clock steps it back an hour while someone is in view: the node times its event's gap,
    its CNN budget and its memories by the steady clock, so it decides exactly as without the step; only the wall
    times in its messages move (before: the CNN budget stopped refilling for the hour and the event never ended)."""
    rng = np.random.default_rng(3)
    base = cv2.GaussianBlur(rng.integers(80, 160, (120, 160), dtype=np.uint8), (5, 5), 0)
    images = []
    for t in range(70):  # a block drifting for 2 s, then 5 s of the empty scene
        f = cv2.cvtColor(base, cv2.COLOR_GRAY2BGR)
        if t < 20:
            cv2.rectangle(f, (5 + 5 * t, 50), (35 + 5 * t, 70), (230, 230, 230), -1)
        images.append(f)

    def run(out, step):
        node = Node(trigger_happy("cam1"), tmp_path / out, 10.0, trace=True)
        for i, image in enumerate(images):
            node.process(Frame(i, WALL + i / 10 - (step if i >= 10 else 0.0), image, clock=i / 10))
        node.finish()
        return node

    steady, stepped = run("steady", 0.0), run("stepped", 3600.0)
    frames = ("start_frame", "alert_frame", "last_person_frame", "end_frame")
    assert [{k: e[k] for k in frames} for e in stepped.trace.events] == [{k: e[k] for k in frames} for e in steady.trace.events]
    assert len(steady.trace.events) == 1 and steady.trace.events[0]["end_frame"] < 69  # ended by its gap
    assert stepped.trace.cnn == steady.trace.cnn
    assert stepped.trace.events[0]["end_time"] == pytest.approx(steady.trace.events[0]["end_time"] - 3600.0)


def test_a_walker_at_night_is_motion_to_the_node_as_by_day(tmp_path):
    """The node's motion stage judges a scene as dark and flat as the CNN's crops are stretched for by its contrast, so
    a walker who differs from the background by a third as much at night still moves (far walkers at night were
    proposed on 5 of their 179 frames)."""
    node = Node(NodeConfig(), tmp_path, 10.0, trace=True)
    for i, image in enumerate(night_walk()):
        node.process(Frame(i, WALL + i / 10, cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), clock=i / 10))
    walking = node.trace.motion[NIGHT_WARMUP + 4 :]
    assert sum(walking) / len(walking) >= 0.9
    assert not any(node.trace.motion[10:NIGHT_WARMUP])  # the dark scene's noise is no motion


def test_a_live_node_keeps_no_history_of_its_frames_or_events(tmp_path, moving_video):
    """Run for months on a Linux camera, the node holds what the next frame needs, not every frame's facts: the
    per-frame trace and the event records that the simulator scores are kept only when asked for."""
    live = Node(trigger_happy("cam1"), tmp_path / "live", 10.0)
    simulated = Node(trigger_happy("cam1"), tmp_path / "sim", 10.0, trace=True)
    for node in (live, simulated):
        for frame in FrameSource(str(moving_video), start_time=0.0):
            node.process(frame)
        node.finish()
    assert live.trace is None and live.report()["events"] == 1
    assert len((tmp_path / "live" / "events.jsonl").read_text().splitlines()) == 1  # the record is on the card
    assert len(simulated.trace.cnn) == len(simulated.trace.motion) == 24 and len(simulated.trace.events) == 1


def test_blobs_that_appear_at_once_are_classified_over_the_next_frames_as_the_esp32_would(tmp_path):
    # four blocks start moving in the same frame: the ESP32 (~10 invokes a second, 88 ms each) cannot classify them
    # all inside one 100 ms frame; its two frame buffers let it run two in a row, the others follow frame by frame
    rng = np.random.default_rng(5)
    base = cv2.GaussianBlur(rng.integers(80, 160, (240, 320), dtype=np.uint8), (5, 5), 0)
    frames = []
    for t in range(30):
        f = base.copy()
        if t >= 12:
            for k in range(4):
                x = 10 + 75 * k + 3 * (t - 12)
                cv2.rectangle(f, (x, 60 + 30 * (k % 2)), (x + 24, 130 + 30 * (k % 2)), 235 - 10 * k, -1)
        frames.append(f)
    node = Node(NodeConfig(), tmp_path, 10.0)
    for frame in FrameSource(str(write_avi(tmp_path / "blocks.avi", frames)), start_time=0.0):
        node.process(frame)
    node.finish()
    report = node.report()
    in_a_row = report["budget"]["inferences_in_a_row"]
    assert in_a_row["value"] == 2  # two at the cut, not all four
    assert in_a_row["limit"] == pytest.approx(2 * node.per_second / 10.0, abs=0.01) and in_a_row["ok"]
    assert report["inferences"] >= 4  # each block got its look in the frames after


def test_a_reboot_mid_event_ends_it_and_never_reuses_its_id(broker_url, tmp_path, moving_video):
    camera = f"cam{uuid.uuid4().hex[:6]}"
    collector = Collector(broker_url, f"smartcam/{camera}/events")
    cfg = trigger_happy(camera)
    sd = tmp_path / "sd"

    first = Publisher(broker_url, "smartcam", camera, Spool(sd / "queue", 1 << 20))
    first.start()
    node = Node(cfg, sd, 10.0, first)
    interrupted = run_until_open_event(node, moving_video)
    assert (sd / OPEN_EVENT_JOURNAL).exists()
    assert first.wait_drained(10)
    first.client.loop_stop()  # power cut: no end, no finish, no clean disconnect

    second = Publisher(broker_url, "smartcam", camera, Spool(sd / "queue", 1 << 20))
    second.start()
    rebooted = Node(cfg, sd, 10.0, second)
    assert rebooted.interrupted_events == 1 and not (sd / OPEN_EVENT_JOURNAL).exists()
    fresh = run_until_open_event(rebooted, moving_video)
    rebooted.finish()
    second.stop()

    assert fresh != interrupted  # same clock, same frames: only the boot id tells them apart
    assert collector.wait_for(lambda m: sum(1 for t, p, _ in m if b'"end"' in p) >= 2)
    collector.close()
    messages = [contract.EventMessage.from_bytes(p) for _, p, _ in collector.messages]
    by_id = {}
    for m in messages:
        by_id.setdefault(m.event_id, []).append(m)
    assert set(by_id) == {interrupted, fresh}
    old = by_id[interrupted]
    assert next(m.type for m in old) == "new" and old[-1].type == "end" and sum(m.type == "end" for m in old) == 1
    assert old[-1].seq > max(m.seq for m in old[:-1]) and old[-1].end_time >= old[0].start_time
    assert by_id[fresh][-1].type == "end"


def test_a_corrupt_journal_is_discarded(tmp_path):
    (tmp_path / OPEN_EVENT_JOURNAL).write_text("{not json")
    node = Node(NodeConfig(), tmp_path, 10.0)
    assert node.interrupted_events == 0 and not (tmp_path / OPEN_EVENT_JOURNAL).exists()


def test_closing_an_earlier_events_clip_keeps_the_newer_events_journal(tmp_path):
    """A person returns during the previous event's post-roll: that event's ``end`` goes out when its clip
    closes, after the new event started; the journal must still hold the new one."""
    node = Node(NodeConfig(camera_id="cam1"), tmp_path, 10.0)

    def event(event_id: str, t: float) -> Event:
        return Event(event_id, t, int(t * 10), t, int(t * 10), t + 1, int(t * 10) + 10, 0.9, Box(10, 10, 20, 40), int(t * 10))

    first, second = event("1000-cam1-aaaaaa", 1.0), event("3000-cam1-aaaaaa", 3.0)
    node._on_change(EventChange("new", first), None)
    node._on_change(EventChange("end", first), None)  # waits for its clip's post-roll
    node._on_change(EventChange("new", second), None)
    node._close_event(first, ClipInfo(first.event_id, None, None, None, 0, "test"))
    journal = json.loads((tmp_path / OPEN_EVENT_JOURNAL).read_text())
    assert journal["message"]["event_id"] == second.event_id
    node._close_event(second, ClipInfo(second.event_id, None, None, None, 0, "test"))
    assert not (tmp_path / OPEN_EVENT_JOURNAL).exists()


def test_a_better_thumbnail_found_during_an_event_is_sent_with_the_next_update(tmp_path, moving_video):
    spool = Spool(tmp_path / "queue", 1 << 22)
    pub = Publisher("mqtt://127.0.0.1:1", "smartcam", "cam1", spool)  # never started: everything stays spooled
    node = Node(trigger_happy("cam1"), tmp_path, 10.0, pub)
    for frame in FrameSource(str(moving_video), start_time=0.0):
        node.process(frame)
    ev = node.events.current
    assert ev is not None and ev.best_frame > ev.alert_frame  # the best view came after the alert ...
    thumbs = []
    while (item := spool.peek()) is not None:
        path, msg = item
        if msg.topic.endswith(f"/thumbnail/{ev.event_id}"):
            thumbs.append(msg.payload)
        spool.ack(path)
    assert len(thumbs) >= 2 and thumbs[-1] != thumbs[0]  # ... and was sent while the event is still open

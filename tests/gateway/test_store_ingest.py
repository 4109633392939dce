"""Ingest on SQLite and PostgreSQL: validation at the edge, idempotent upserts, thumbnails before rows."""
import io
import json
import logging
import time

import pytest
from PIL import Image

import contract
from gateway.config import LimitsConfig
from gateway.ingest import MAX_LOGGED_FAULTS, Ingestor
from gateway.media import MediaStore
from gateway.store import DEAD_LETTERS_KEPT, Store


def jpeg(w=40, h=60, color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, "JPEG")
    return buf.getvalue()


def ev(kind, seq, camera="cam1", event_id="1000-cam1", **kw) -> bytes:
    fields = {"type": kind, "event_id": event_id, "camera": camera, "seq": seq, "start_time": 1000.0, "score": 0.5 + seq / 100}
    fields.update(kw)
    return contract.EventMessage(**fields).to_bytes()


def stats(camera="cam1", t=3600.0, cont=1000, clip=100, frames=10, clip_seconds=0.0, energy=None) -> bytes:
    return contract.StatsMessage(
        camera=camera, time=t, frames=frames, motion_frames=1, cnn_frames=1, inferences=1, events=1, queue_bytes=0, dropped_messages=0,
        ledger=contract.Ledger(frames=frames, seconds=frames / 10, continuous_bytes=cont, clip_bytes=clip, thumbnail_bytes=10, message_bytes=5,
                               clip_seconds=clip_seconds, motion_seconds=clip_seconds * 2),
        energy=energy,
    ).to_bytes()


@pytest.fixture
def ingest(store, tmp_path):
    return Ingestor(store, MediaStore(tmp_path / "media"), "smartcam", LimitsConfig())


def test_event_lifecycle_in_any_order_with_duplicates_converges(ingest, store):
    msgs = [ev("end", 3, end_time=1010.0, clip_bytes=5000), ev("new", 0), ev("update", 1), ev("new", 0), ev("end", 3, end_time=1010.0, clip_bytes=5000)]
    for m in msgs:
        assert ingest.handle("smartcam/cam1/events", m)
    (row,) = store.events()
    assert row["state"] == "ended" and row["seq"] == 3 and row["end_time"] == 1010.0 and row["clip_bytes"] == 5000
    assert row["score"] == pytest.approx(0.53)
    assert store.count("events") == 1


def test_thumbnail_first_then_event(ingest, store, tmp_path):
    data = jpeg()
    assert ingest.handle("smartcam/cam1/thumbnail/1000-cam1", data)
    assert store.events() == []  # a pending row is not an event yet
    ingest.handle("smartcam/cam1/events", ev("new", 0))
    (row,) = store.events()
    thumb = store.thumbnail(row["thumbnail_sha"])
    assert (tmp_path / "media" / thumb["path"]).read_bytes() == data and thumb["bytes"] == len(data)
    assert store.stored_bytes() == len(data)


@pytest.mark.parametrize(
    "topic, payload, reason",
    [
        ("smartcam/cam1/events", b"{not json", "ContractError"),
        ("smartcam/cam1/events", ev("new", 0, camera="cam2", event_id="1-cam2"), "ContractError"),  # camera != topic
        ("smartcam/cam1/events", json.dumps({"type": "new", "event_id": "../../etc", "camera": "cam1", "seq": 0, "start_time": 1, "score": 0.5}).encode(), "ContractError"),
        ("smartcam/cam1/events", b"{" + b" " * 20000 + b"}", "ContractError"),
        ("smartcam/CAM!/events", ev("new", 0), "ContractError"),
        ("smartcam/cam1/thumbnail/..", jpeg(), "ContractError"),
        ("smartcam/cam1/thumbnail/e1", b"\xff\xd8\xff\xe0 truncated", "BadImage"),
        ("smartcam/cam1/thumbnail/e1", b"GIF89a....", "BadImage"),
        ("smartcam/cam1/thumbnail/e1", jpeg(3000, 3000), "BadImage"),  # decompression-bomb guard
        ("smartcam/cam1/availability", b"\xff\xfe", "ContractError"),
        ("smartcam/cam1/stats", b'{"camera": "cam1"}', "ContractError"),
        ("other/cam1/events", ev("new", 0), "ContractError"),
    ],
)
def test_bad_messages_are_rejected_counted_and_harmless(ingest, store, topic, payload, reason):
    assert not ingest.handle(topic, payload)
    assert ingest.counters.rejected[reason] == 1
    assert ingest.handle("smartcam/cam1/events", ev("new", 0))  # the next good message still goes through
    assert store.count("events") == 1


def test_stats_feed_the_hourly_ledger_as_deltas(ingest, store):
    ingest.handle("smartcam/cam1/stats", stats(t=3600.0, cont=1000, clip=100, frames=10), received_at=3601.0)
    ingest.handle("smartcam/cam1/stats", stats(t=3700.0, cont=3000, clip=100, frames=30), received_at=3702.0)
    ingest.handle("smartcam/cam1/stats", stats(t=7300.0, cont=500, clip=0, frames=5), received_at=7301.0)  # node restarted: counters reset
    rows = store.ledger()
    assert [(r["hour"], r["continuous_bytes"], r["frames"]) for r in rows] == [(3600, 3000, 30), (7200, 500, 5)]


def test_a_skewed_node_clock_neither_expires_events_nor_misdates_the_ledger(ingest, store, tmp_path):
    from gateway.config import RetentionConfig
    from gateway.retention import sweep

    now = 1_000_000.0
    # A node that booted without NTP (clock at 1970 + minutes) and one a year ahead.
    ingest.handle("smartcam/cam1/events", ev("new", 0, camera="cam1", event_id="e-slow", start_time=120.0), received_at=now)
    ingest.handle("smartcam/cam2/events", ev("new", 0, camera="cam2", event_id="e-fast", start_time=now + 365 * 86400), received_at=now)
    ingest.handle("smartcam/cam1/stats", stats(camera="cam1", t=120.0, cont=1000), received_at=now)
    sweep(store, ingest.media, RetentionConfig(days=30), now=now + 86400, orphan_grace=0)
    assert {e["event_id"] for e in store.events()} == {"e-slow", "e-fast"}  # retention runs on the gateway's clock
    assert [r["hour"] for r in store.ledger()] == [int(now // 3600 * 3600)]
    assert ingest.counters.clock_skewed["cam1"] == 1
    sweep(store, ingest.media, RetentionConfig(days=30), now=now + 31 * 86400, orphan_grace=0)
    assert store.events() == []  # and still expires both on time


def test_availability_and_cameras(ingest, store):
    ingest.handle("smartcam/cam1/availability", b"online")
    ingest.handle("smartcam/cam1/availability", b"offline")
    (cam,) = store.cameras()
    assert cam["camera_id"] == "cam1" and cam["availability"] == "offline"


def test_events_filter_and_paginate(ingest, store):
    for i in range(7):
        ingest.handle(f"smartcam/cam{i % 2}/events", ev("new", 0, camera=f"cam{i % 2}", event_id=f"{i}-x", start_time=1000.0 + i))
    assert [e["event_id"] for e in store.events(limit=3)] == ["6-x", "5-x", "4-x"]
    assert [e["event_id"] for e in store.events(limit=3, offset=3)] == ["3-x", "2-x", "1-x"]
    assert {e["camera_id"] for e in store.events(camera="cam1")} == {"cam1"}
    assert [e["event_id"] for e in store.events(since=1005.0)] == ["6-x", "5-x"]


def test_reopening_the_database_keeps_everything(dsn, tmp_path):
    s = Store(dsn)
    Ingestor(s, MediaStore(tmp_path / "m"), "smartcam", LimitsConfig()).handle("smartcam/cam1/events", ev("new", 0))
    s.close()
    again = Store(dsn)
    assert again.count("events") == 1
    again.close()


def test_unknown_store_dsn_is_an_error():
    with pytest.raises(ValueError, match="unsupported store"):
        Store("mysql://x")


def test_an_event_left_open_by_a_rebooted_node_is_ended_by_its_next_event(ingest, store):
    ingest.handle("smartcam/cam1/events", ev("new", 0, event_id="1000-cam1-aaaaaa"))
    ingest.handle("smartcam/cam2/events", ev("new", 0, camera="cam2", event_id="1000-cam2-aaaaaa"))
    ingest.handle("smartcam/cam1/events", ev("new", 0, event_id="1000-cam1-bbbbbb"))  # rebooted, SD journal lost
    states = {e["event_id"]: (e["state"], e["end_time"]) for e in store.events()}
    assert states == {"1000-cam1-aaaaaa": ("ended", 1000.0), "1000-cam1-bbbbbb": ("open", None), "1000-cam2-aaaaaa": ("open", None)}
    ingest.handle("smartcam/cam1/events", ev("end", 3, event_id="1000-cam1-aaaaaa", end_time=1004.0))  # late end still lands
    assert store.event("cam1", "1000-cam1-aaaaaa")["end_time"] == 1004.0


def test_an_orphaned_event_is_ended_at_its_last_news_not_at_its_start(ingest, store):
    ingest.handle("smartcam/cam1/events", ev("new", 0, event_id="1000000-cam1-aaaaaa", start_time=1000.0), received_at=5000.0)
    ingest.handle("smartcam/cam1/events", ev("update", 1, event_id="1000000-cam1-aaaaaa", start_time=1000.0), received_at=5030.0)
    ingest.handle("smartcam/cam1/events", ev("new", 0, event_id="1000-cam1-bbbbbb", start_time=1.0), received_at=5100.0)  # rebooted
    assert store.event("cam1", "1000000-cam1-aaaaaa")["end_time"] == 1030.0  # 30 s of news after its start


def test_an_event_of_a_camera_gone_offline_for_good_is_ended_at_its_last_news(ingest, store):
    # cam1's node died mid-event (its last will: offline) and never came back; cam2's sitter is still there; cam3
    # went offline only lately (it may reboot and end its event from its journal, as it knows it)
    for camera, event_id in (("cam1", "1000000-cam1-aaaaaa"), ("cam2", "1000000-cam2-aaaaaa"), ("cam3", "1000000-cam3-aaaaaa")):
        ingest.handle(f"smartcam/{camera}/events", ev("new", 0, camera=camera, event_id=event_id, start_time=1000.0), received_at=5000.0)
        ingest.handle(f"smartcam/{camera}/events", ev("update", 1, camera=camera, event_id=event_id, start_time=1000.0), received_at=5030.0)
    ingest.handle("smartcam/cam1/availability", b"offline", received_at=5040.0)
    ingest.handle("smartcam/cam3/availability", b"offline", received_at=5500.0)
    assert store.end_events_of_lost_cameras(at=5700.0, after=600.0) == [("cam1", "1000000-cam1-aaaaaa")]
    states = {e["camera_id"]: (e["state"], e["end_time"]) for e in store.events()}
    assert states == {"cam1": ("ended", 1030.0), "cam2": ("open", None), "cam3": ("open", None)}
    ingest.handle("smartcam/cam1/events", ev("end", 3, camera="cam1", event_id="1000000-cam1-aaaaaa", end_time=1032.0))
    assert store.event("cam1", "1000000-cam1-aaaaaa")["end_time"] == 1032.0  # it came back after all: its own end lands


def test_a_late_new_of_an_earlier_event_does_not_end_the_open_later_one(ingest, store):
    ingest.handle("smartcam/cam1/events", ev("new", 0, event_id="2000000-cam1-aaaaaa", start_time=2000.0), received_at=5000.0)
    ingest.handle("smartcam/cam1/events", ev("new", 0, event_id="1000000-cam1-aaaaaa", start_time=1000.0), received_at=5001.0)
    assert store.event("cam1", "2000000-cam1-aaaaaa")["state"] == "open"  # delivered out of order, same boot
    assert store.event("cam1", "1000000-cam1-aaaaaa")["state"] == "open"  # its own end is still to come


def test_two_gateways_adding_the_same_stats_at_once_count_it_once(dsn):
    import threading

    first, second = Store(dsn), Store(dsn)  # two gateways of one share group, one database
    first.add_stats(contract.StatsMessage.from_bytes(stats(cont=1000)), 3600.0)
    again = contract.StatsMessage.from_bytes(stats(cont=3000))  # redelivered to both (a broker failover)
    inside = threading.Event()

    def other_gateway():
        inside.wait(10)
        with second.transaction():
            second.add_stats(again, 3600.0)

    worker = threading.Thread(target=other_gateway)
    worker.start()
    with first.transaction():
        first.add_stats(again, 3600.0)
        inside.set()
        time.sleep(0.5)  # the other gateway reads and writes while this transaction is open
    worker.join(10)
    assert [r["continuous_bytes"] for r in first.ledger()] == [3000]  # 1000 + the 2000 growth, once


def test_a_failing_post_commit_hook_neither_fails_nor_repeats_the_stored_message(store, tmp_path):
    calls = []

    def broken_hook(kind, info):
        calls.append(kind)
        raise RuntimeError("bug in the Home Assistant publisher")

    ingest = Ingestor(store, MediaStore(tmp_path / "media"), "smartcam", LimitsConfig(), on_event=broken_hook)
    assert ingest.handle("smartcam/cam1/events", ev("new", 0))  # stored and acknowledged, not retried for ever
    assert store.count("events") == 1 and calls == ["new"]
    assert ingest.counters.hook_errors["RuntimeError"] == 1 and not ingest.counters.store_errors


def test_sqlite_commits_are_durable_before_the_broker_is_acknowledged(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/gw.db")
    # WAL with synchronous=NORMAL may lose the last commits on power loss, after the ack went out: FULL (2) syncs each one.
    assert store._rows("PRAGMA synchronous")[0]["synchronous"] == 2


def test_a_message_that_can_never_be_stored_is_kept_aside_raw_and_bounded(ingest, store):
    poison = json.dumps({"camera": "cam1", "time": 1.0, "ledger": {"frames": 10**30}}).encode()
    assert not ingest.handle("smartcam/cam1/stats", poison, received_at=50.0)
    (kept,) = store.dead_letters()
    assert kept["topic"] == "smartcam/cam1/stats" and kept["payload"] == poison and kept["reason"] == "ContractError"
    for i in range(DEAD_LETTERS_KEPT + 5):
        ingest.handle("smartcam/cam1/events", b"{bad %d" % i, received_at=100.0 + i)
    letters = store.dead_letters()
    assert len(letters) == DEAD_LETTERS_KEPT and letters[0]["payload"] == b"{bad %d" % (DEAD_LETTERS_KEPT + 4)  # newest first


def test_a_store_made_before_a_ledger_field_existed_gains_its_column_and_keeps_its_hours(dsn):
    store = Store(dsn)
    store.add_stats(contract.StatsMessage(camera="cam", time=0, frames=10, motion_frames=0, cnn_frames=0, inferences=0, events=0,
                                          queue_bytes=0, dropped_messages=0, ledger=contract.Ledger(frames=10, seconds=1.0)), 3600.0)
    with store.transaction():
        store._execute("ALTER TABLE ledger DROP COLUMN motion_seconds")  # what an older gateway created
    store.close()
    reopened = Store(dsn)
    [row] = reopened.ledger()
    assert row["frames"] == 10 and row["motion_seconds"] == 0
    reopened.close()


def test_a_cleared_retained_availability_is_no_malformed_message_and_changes_nothing(ingest, store):
    """Clearing a retained message (an empty payload, e.g. `mosquitto_pub -r -n`) reaches every subscriber."""
    ingest.handle("smartcam/cam1/availability", b"online")
    assert ingest.handle("smartcam/cam1/availability", b"")
    assert not ingest.counters.rejected and store.dead_letters() == []
    (cam,) = store.cameras()
    assert cam["availability"] == "online"


def test_a_flood_of_distinct_bad_messages_is_counted_but_logs_and_remembers_a_bounded_number(ingest, store, caplog):
    """Every fault is counted; the log shows each kind of fault once, up to a cap, so a stream of distinct bad
    payloads (sizes, camera names: each detail different) neither floods the log nor grows the gateway's memory."""
    n = 2000
    with caplog.at_level(logging.WARNING, logger="gateway.ingest"):
        for i in range(n):
            mismatch = ev("new", 0, camera=f"other{i}", event_id=f"1-other{i}")  # payload camera != topic camera
            oversize = b"{" + b" " * (LimitsConfig().max_json_bytes + i) + b"}"  # a different size each time
            assert not ingest.handle("smartcam/cam1/events", mismatch)
            assert not ingest.handle("smartcam/cam1/events", oversize)
    assert ingest.counters.rejected["ContractError"] == 2 * n
    assert len(ingest.counters._logged) <= 100
    assert len(caplog.records) <= 101  # and one line saying the rest are only counted
    assert any("camera" in r.getMessage() for r in caplog.records) and any("exceeds" in r.getMessage() for r in caplog.records)


def test_faults_of_ever_new_kinds_are_logged_up_to_a_cap_then_only_counted(ingest, caplog):
    with caplog.at_level(logging.WARNING, logger="gateway.ingest"):
        for i in range(3 * MAX_LOGGED_FAULTS):
            ingest._log_once("rejected message (ContractError)", "smartcam/cam1/events", "fault " + "x" * i)
    assert len(caplog.records) == MAX_LOGGED_FAULTS + 1
    assert "only counted" in caplog.records[-1].getMessage()

"""Retention by days and by a size cap (never exceeded), orphan sweeping, and the savings report."""
import json

import pytest

import contract
from gateway.config import LimitsConfig, ReportConfig, RetentionConfig
from gateway.ingest import Ingestor
from gateway.media import MediaStore
from gateway.report import write_report
from gateway.retention import sweep
from gateway.savings import day, savings_summary
from tests.gateway.test_store_ingest import ev, jpeg, stats

DAY = 86400.0


@pytest.fixture
def media(tmp_path):
    return MediaStore(tmp_path / "media")


@pytest.fixture
def ingest(store, media):
    return Ingestor(store, media, "smartcam", LimitsConfig())


def add_event(ingest, camera, i, start):
    eid = f"{i}-{camera}"
    ingest.handle(f"smartcam/{camera}/events", ev("new", 0, camera=camera, event_id=eid, start_time=start), received_at=start)
    ingest.handle(f"smartcam/{camera}/thumbnail/{eid}", jpeg(40 + i, 60 + len(camera) + int(camera[-1]), (i * 9 % 255, 0, 0)), received_at=start)


def test_days_per_camera(ingest, store, media):
    now = 100 * DAY
    for i in range(4):
        add_event(ingest, "cam1", i, now - (i * 10 + 1) * DAY)  # 1, 11, 21, 31 days old
        add_event(ingest, "cam2", i, now - (i * 10 + 1) * DAY)
    result = sweep(store, media, RetentionConfig(days=30, camera_days={"cam2": 15}), now=now, orphan_grace=0)
    assert len(store.events(camera="cam1")) == 3 and len(store.events(camera="cam2")) == 2
    assert result.expired_events == 3 and result.thumbnails_deleted == 3
    assert len(media.files()) == store.count("thumbnails") == 5


def test_size_cap_deletes_oldest_first_and_is_never_exceeded(ingest, store, media):
    for i in range(10):
        add_event(ingest, "cam1", i, 1000.0 + i)
    per = store.stored_bytes() / 10
    cap_gb = 4.5 * per / 1e9
    sweep(store, media, RetentionConfig(days=1e6, max_gb=cap_gb), now=2000.0, orphan_grace=0)
    assert store.stored_bytes() <= cap_gb * 1e9
    kept = sorted(e["event_id"] for e in store.events())
    assert kept == [f"{i}-cam1" for i in range(10) if i >= 10 - len(kept)]  # the newest survive


def test_orphan_files_and_temp_files_are_swept(store, media, tmp_path):
    media.put(jpeg())  # a file whose row never got written (crash between the two)
    (media.root / "ab").mkdir(exist_ok=True)
    (media.root / "ab" / ".deadbeef.123.tmp").write_bytes(b"partial")
    result = sweep(store, media, RetentionConfig(), orphan_grace=0)
    assert result.orphan_files == 2 and media.files() == []


def test_young_orphans_are_left_alone(store, media):
    media.put(jpeg())
    assert sweep(store, media, RetentionConfig(), orphan_grace=3600).orphan_files == 0


def ledger_row(**kw) -> dict:
    return {**contract.Ledger(**kw).model_dump()}


def test_the_three_savings_are_each_against_their_own_baseline():
    # an hour: 10 MB of MJPEG; 6 min inside clips (600 kB); 15 kB of thumbnails, 5 kB of messages; 12 min of motion
    rows = [ledger_row(frames=36_000, seconds=3600.0, continuous_bytes=10_000_000, clip_bytes=600_000, thumbnail_bytes=15_000,
                       message_bytes=5_000, clip_seconds=360.0, motion_seconds=720.0)]
    s = savings_summary(rows, h264_kbps=8, events=3)  # 1 kB/s: 3.6 MB an hour
    assert s["wifi"]["sent_bytes"] == 20_000 and s["wifi"]["saved_percent"] == 99.8  # vs streaming the MJPEG
    assert s["sd_card"]["saved_percent"] == 94.0  # clips vs continuous MJPEG on the card
    assert s["server"]["h264_bytes"] == 3_600_000 and s["server"]["h264_motion_bytes"] == 720_000
    assert s["server"]["saved_vs_h264_percent"] == pytest.approx(100 * (1 - 20_000 / 3_600_000), abs=0.01)
    assert s["server"]["with_clips_bytes"] == 620_000
    assert s["rates"]["activity_share"] == 0.1 and s["rates"]["events_per_hour"] == 3


def test_the_break_even_share_is_where_clips_cost_what_continuous_h264_costs():
    rows = [ledger_row(frames=36_000, seconds=3600.0, continuous_bytes=10_000_000, clip_bytes=600_000, thumbnail_bytes=15_000,
                       message_bytes=5_000, clip_seconds=360.0)]
    s = savings_summary(rows, h264_kbps=8, events=3)
    share = s["server"]["break_even_share"]
    at = day(s["rates"], share)
    assert at["server_with_clips_bytes"] == pytest.approx(at["h264_bytes"], rel=1e-3)
    assert day(s["rates"], share * 1.2)["server_with_clips_bytes"] > at["h264_bytes"]


def test_projections_use_the_stated_share_and_the_measured_one_never_a_bare_extrapolation():
    rows = [ledger_row(frames=1500, seconds=150.0, continuous_bytes=1_500_000, clip_bytes=300_000, thumbnail_bytes=4_000,
                       message_bytes=1_000, clip_seconds=30.0)]  # 2.5 minutes, people in a fifth of it
    s = savings_summary(rows, h264_kbps=1024, events=2, activity_share=0.05)
    stated, measured = s["projection_per_day"]["stated"], s["projection_per_day"]["measured"]
    assert stated["activity_share"] == 0.05 and measured["activity_share"] == 0.2
    assert stated["clip_bytes"] == pytest.approx(300_000 / 0.5 * 0.05 * 1440)  # 600 kB per active minute, 72 active minutes
    assert measured["clip_bytes"] == pytest.approx(4 * stated["clip_bytes"])
    assert stated["stream_bytes"] == measured["stream_bytes"] == pytest.approx(600_000 * 1440)


def test_nothing_measured_gives_no_percentages_and_no_projection():
    s = savings_summary([], h264_kbps=1024)
    assert s["wifi"]["saved_percent"] is None and s["sd_card"]["saved_percent"] is None
    assert s["server"]["break_even_share"] is None and s["projection_per_day"] == {"stated": None, "measured": None}


def test_report_writes_html_plots_json_and_csv(ingest, store, tmp_path):
    add_event(ingest, "cam1", 1, 3700.0)
    ingest.handle("smartcam/cam1/stats", stats(t=3700.0, cont=10_000, clip=500))
    ingest.handle("smartcam/cam2/stats", stats(camera="cam2", t=7300.0, cont=20_000, clip=0))
    truth = tmp_path / "metrics.json"
    truth.write_text(json.dumps({"recorders": {"node": {"events_caught": 4, "person_intervals": 4, "false_alerts": 0, "frame_recall": 1.0, "median_alert_latency_s": 0.2, "storage_saved": 0.7}}}))
    doc = write_report(store, tmp_path / "report", ReportConfig(), truth=truth)
    assert doc["total"]["continuous_bytes"] == 30_000 and doc["events"] == 1
    assert set(doc["cameras"]) == {"cam1", "cam2"}
    out = tmp_path / "report"
    html = (out / "report.html").read_text()
    assert "Wi-Fi" in html and "SD card" in html and "Detection quality" in html and "None" not in html
    assert doc["plots"] == ["savings.png", "break_even.png", "events_over_time.png", "detection.png"]
    for name in doc["plots"]:
        assert f"src='{name}'" in html and (out / name).stat().st_size > 5000
    assert len((out / "ledger.csv").read_text().splitlines()) == 3
    assert json.loads((out / "report.json").read_text())["total"] == doc["total"]


def test_identical_thumbnails_are_stored_once_and_kept_while_referenced(ingest, store, media):
    same = jpeg()
    for i, cam in enumerate(("cam1", "cam2")):
        ingest.handle(f"smartcam/{cam}/events", ev("new", 0, camera=cam, event_id=f"{i}-{cam}", start_time=10.0 + i))
        ingest.handle(f"smartcam/{cam}/thumbnail/{i}-{cam}", same)
    assert store.count("thumbnails") == 1 and store.stored_bytes() == len(same)
    sweep(store, media, RetentionConfig(days=1e6, camera_days={"cam1": 1e-9}), now=1e6, orphan_grace=0)
    assert store.count("thumbnails") == 1 and len(media.files()) == 1  # cam2 still points at it


def test_the_cap_holds_at_every_ingest_not_just_at_sweeps(store, media):
    from gateway.retention import make_room

    biggest = max(len(jpeg(40 + i, 65, (i * 9 % 255, 0, 0))) for i in range(10))
    cfg = RetentionConfig(days=1e6, max_gb=3.5 * biggest / 1e9)
    ingest = Ingestor(store, media, "smartcam", LimitsConfig(), make_room=lambda n: make_room(store, media, cfg, n))
    peak = 0
    for i in range(10):
        add_event(ingest, "cam1", i, 1000.0 + i)
        peak = max(peak, store.stored_bytes())
    assert peak <= cfg.max_gb * 1e9 and len(store.events()) <= 3
    assert store.events()[0]["event_id"] == "9-cam1"


def test_the_running_total_equals_the_sum_of_stored_thumbnails(ingest, store, media):
    for i in range(6):
        add_event(ingest, "cam1", i, 1000.0 + i)
    ingest.handle("smartcam/cam1/thumbnail/0-cam1", jpeg(40, 65, (0, 0, 0)))  # a duplicate changes nothing
    sweep(store, media, RetentionConfig(days=1e6, camera_days={"cam1": 1e-9}), now=1e6, orphan_grace=0)
    add_event(ingest, "cam1", 7, 2e6)
    rows = store._rows("SELECT COALESCE(SUM(bytes), 0) AS total FROM thumbnails")
    assert store.stored_bytes() == rows[0]["total"] > 0


def test_the_size_cap_deletes_only_events_whose_deletion_frees_bytes(ingest, store, media):
    from gateway.retention import make_room

    ingest.handle("smartcam/cam1/events", ev("new", 0, event_id="0-cam1", start_time=999.0), received_at=999.0)  # no thumbnail
    same = jpeg(50, 70, (9, 9, 9))
    for i, cam in enumerate(("cam1", "cam2")):  # the oldest thumbnail is shared by two events
        ingest.handle(f"smartcam/{cam}/events", ev("new", 0, camera=cam, event_id=f"s{i}-{cam}", start_time=1000.0 + i), received_at=1000.0 + i)
        ingest.handle(f"smartcam/{cam}/thumbnail/s{i}-{cam}", same, received_at=1000.0 + i)
    for i in range(3):
        add_event(ingest, "cam1", i + 1, 1100.0 + i)
    cfg = RetentionConfig(days=1e6, max_gb=(store.stored_bytes() - 1) / 1e9)  # one byte over: one thumbnail must go
    events, thumbs = make_room(store, media, cfg, 0)
    assert store.stored_bytes() <= cfg.max_gb * 1e9 and thumbs == 1
    kept = {e["event_id"] for e in store.events()}
    assert "0-cam1" in kept  # it held no bytes: deleting it would have lost an event for nothing
    assert events == 2 and not {"s0-cam1", "s1-cam2"} & kept  # both holders of the shared thumbnail went, nothing newer


def test_ingest_and_the_sweeper_making_room_at_once_delete_no_more_than_needed(ingest, store, media):
    import threading

    from gateway.retention import make_room

    for i in range(12):
        add_event(ingest, "cam1", i, 1000.0 + i)
    cfg = RetentionConfig(days=1e6, max_gb=(store.stored_bytes() - 1) / 1e9)  # one byte over
    start, results = threading.Barrier(4), []
    def worker():
        start.wait()
        results.append(make_room(store, media, cfg, 0))
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(thumbs for _, thumbs in results) == 1 and len(store.events()) == 11  # one went, once

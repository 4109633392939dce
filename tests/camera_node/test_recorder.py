"""Clips with pre- and post-roll, thumbnails, the ledger, and a full SD card."""
import cv2
import numpy as np
import pytest

from camera_node.avi import avi_size
from camera_node.config import RecorderConfig
from camera_node.recorder import Recorder
from camera_node.scenario import read_video
from models.inference.preprocess import Box
from tests.conftest import read_only, tmpfs

FPS = 10.0


def jpeg(i):
    img = np.full((48, 64, 3), (i * 7) % 255, np.uint8)
    return cv2.imencode(".jpg", img)[1].tobytes()


def recorder(tmp_path, **cfg):
    return Recorder(RecorderConfig(**{"pre_roll": 1.0, "post_roll": 0.5, **cfg}), tmp_path / "clips", FPS, 64, 48, lookback=0.3)


def test_clip_spans_pre_roll_to_post_roll(tmp_path):
    rec = recorder(tmp_path)
    done = []
    for i in range(40):
        done += rec.push(i, i / FPS, jpeg(i))
        if i == 20:
            done += rec.start("ev1", start_time=1.8)  # first person frame 18, alert at 20
        if i == 30:
            done += rec.end("ev1", last_seen=2.6)  # last person frame 26
    (clip,) = done
    assert (clip.first_frame, clip.last_frame) == (8, 31)  # 1.8 - 1.0 s .. 2.6 + 0.5 s
    assert len(read_video(clip.path)[0]) == 24 and clip.bytes == clip.path.stat().st_size


def test_pre_roll_ring_only_holds_what_it_needs(tmp_path):
    rec = recorder(tmp_path)
    for i in range(100):
        rec.push(i, i / FPS, jpeg(i))
    assert len(rec.ring) <= int((1.0 + 0.3) * FPS) + 1
    assert rec.peak_ring_bytes >= rec.ring_bytes > 0


def test_ledger_counts_continuous_recording_exactly(tmp_path):
    rec = recorder(tmp_path)
    sizes = []
    for i in range(25):
        data = jpeg(i)
        sizes.append(len(data))
        rec.push(i, i / FPS, data)
    assert rec.ledger.continuous_bytes == avi_size(sizes)
    assert rec.ledger.saved_fraction == 1.0  # nothing recorded or sent


def test_thumbnail_is_a_small_jpeg_around_the_person(tmp_path):
    rec = recorder(tmp_path, thumbnail_size=32)
    big = cv2.imencode(".jpg", np.zeros((480, 640, 3), np.uint8))[1].tobytes()
    data = rec.thumbnail(big, Box(300, 100, 40, 120))
    thumb = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert max(thumb.shape[:2]) == 32 and thumb.shape[0] > thumb.shape[1]
    assert rec.ledger.thumbnail_bytes == len(data)


def test_low_free_space_skips_the_clip_with_a_clear_error(tmp_path):
    rec = recorder(tmp_path, min_free_bytes=10**18)
    rec.push(0, 0.0, jpeg(0))
    (info,) = rec.start("ev1", 0.0)
    assert info.path is None and "free" in info.error and rec.errors
    assert rec.push(1, 0.1, jpeg(1)) == []  # and recording goes on without crashing


@pytest.fixture
def tiny_disk(tmp_path):
    with tmpfs(tmp_path / "sd", "64k") as mnt:
        yield mnt


def test_a_really_full_sd_card_loses_the_clip_not_the_node(tiny_disk):
    rec = Recorder(RecorderConfig(pre_roll=0.0, post_roll=0.0, min_free_bytes=0), tiny_disk, FPS, 64, 48, lookback=0.0)
    rec.retention.max_share = 1.5  # a cap above the card: only the filesystem says no (ENOSPC mid-clip)
    noisy = [cv2.imencode(".jpg", np.random.default_rng(i).integers(0, 255, (48, 64, 3), dtype=np.uint8))[1].tobytes() for i in range(40)]
    rec.push(0, 0.0, noisy[0])
    rec.start("ev1", 0.0)
    for i in range(1, 40):
        rec.push(i, i / FPS, noisy[i])
    assert rec.errors and "No space left" in rec.errors[0]
    assert rec.clip is None and not list(tiny_disk.glob("*.avi"))  # the partial clip is removed
    # The space came back with the removed clip: the next (short) event records normally.
    small = cv2.imencode(".jpg", np.full((48, 64, 3), 128, np.uint8))[1].tobytes()
    rec.start("ev2", 40 / FPS)
    for i in range(40, 45):
        rec.push(i, i / FPS, small)
    clips = rec.end("ev2", 44 / FPS) + rec.flush()
    assert [c.event_id for c in clips if c.path is not None] == ["ev2"] and clips[-1].path.stat().st_size > 0


def test_a_card_that_fills_while_the_pre_roll_is_written_loses_the_clip_not_the_node(tiny_disk):
    """ENOSPC on a pre-roll frame: the clip is given up at once, and says why (the event's end carries it)."""
    rec = Recorder(RecorderConfig(pre_roll=5.0, post_roll=0.0, min_free_bytes=0), tiny_disk, FPS, 64, 48, lookback=0.0)
    rec.retention.max_share = 1.5  # a cap above the card: only the filesystem says no
    noisy = [cv2.imencode(".jpg", np.random.default_rng(i).integers(0, 255, (48, 64, 3), dtype=np.uint8))[1].tobytes() for i in range(40)]
    for i, data in enumerate(noisy):  # 40 frames of pre-roll, more than the card holds
        rec.push(i, i / FPS, data)
    (info,) = rec.start("ev1", 39 / FPS)
    assert info.event_id == "ev1" and info.path is None and "No space left" in info.error
    assert rec.clip is None and not list(tiny_disk.glob("*.avi"))
    assert rec.push(40, 4.0, noisy[0]) == []  # recording goes on


def test_over_a_long_run_the_card_stays_under_its_cap_oldest_clips_going_first(tmp_path):
    """A real 1 MiB filesystem, 60 events of 2-4 s: the card never passes 80%, the open clip is never the one
    deleted, the oldest go first, and the stats say so."""
    with tmpfs(tmp_path / "sd", "1m") as card:
        rec = Recorder(RecorderConfig(pre_roll=0.5, post_roll=0.5, min_free_bytes=0, card_max_share=0.8), card, FPS, 64, 48, lookback=0.0)
        frames = [cv2.imencode(".jpg", np.random.default_rng(i).integers(0, 255, (48, 64, 3), dtype=np.uint8))[1].tobytes() for i in range(50)]
        finished, i = [], 0
        for event in range(60):
            rec.start(f"ev{event:02d}", i / FPS)
            for _ in range(20 + 10 * (event % 3)):
                finished += rec.push(i, i / FPS, frames[i % 50])
                i += 1
                use = rec.retention.use()
                assert use.used_bytes <= use.limit_bytes, f"frame {i}"
                assert (card / f"ev{event:02d}.avi").exists()  # the open clip is never deleted
            finished += rec.end(f"ev{event:02d}", i / FPS) + rec.push(i, i / FPS, frames[0]) + rec.flush()
            i += 1
        kept = sorted(p.stem for p in card.glob("*.avi"))
        assert kept == [f"ev{e:02d}" for e in range(60 - len(kept), 60)]  # the newest clips, every one of them whole
        assert rec.retention.use().clips_deleted == 60 - len(kept) > 30 and not rec.errors
        assert all(c.path is not None for c in finished)


def test_a_clip_that_alone_would_pass_the_cap_ends_early_and_is_kept(tmp_path):
    with tmpfs(tmp_path / "sd", "256k") as card:
        rec = Recorder(RecorderConfig(pre_roll=0.0, post_roll=0.0, min_free_bytes=0, card_max_share=0.5), card, FPS, 64, 48, lookback=0.0)
        noisy = cv2.imencode(".jpg", np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8))[1].tobytes()
        rec.start("long", 0.0)
        done = []
        for i in range(200):  # far more than half the card
            done += rec.push(i, i / FPS, noisy)
        assert [c.event_id for c in done] == ["long"] and done[0].path.exists() and done[0].last_frame < 199
        assert rec.clip is None and "ended early" in rec.errors[0]
        use = rec.retention.use()
        assert use.used_bytes <= use.limit_bytes
        assert read_video(done[0].path)[0]  # a valid clip with what fitted


def test_a_clip_the_gateway_already_holds_goes_first_when_the_card_needs_room(tmp_path):
    from camera_node.card import ClipRetention

    with tmpfs(tmp_path / "sd", "256k") as card:
        retention = ClipRetention(card, max_share=0.9)
        for name in ("old", "middle", "new"):
            (card / f"{name}.avi").write_bytes(b"\0" * 50_000)
            retention.add(card / f"{name}.avi")
        retention.mark_fetched(card / "new.avi")
        assert retention.make_room(retention.use().limit_bytes - retention.use().used_bytes + 1)  # one clip must go
        assert sorted(p.stem for p in card.glob("*.avi")) == ["middle", "old"]


def test_a_card_gone_read_only_answers_no_room_rather_than_failing(tmp_path):
    """A failing SD card turns read-only: no old clip can be deleted, so the answer is no (the clip ends early)."""
    from camera_node.card import ClipRetention

    with tmpfs(tmp_path / "sd", "256k") as card:
        retention = ClipRetention(card, max_share=0.9)
        for name in ("old", "new"):
            (card / f"{name}.avi").write_bytes(b"\0" * 50_000)
            retention.add(card / f"{name}.avi")
        read_only(card)
        assert not retention.make_room(retention.use().limit_bytes)
        assert sorted(p.name for p in card.glob("*.avi")) == ["new.avi", "old.avi"] and retention.use().clips_deleted == 0

"""Clips on demand, the gateway's side: every chunk checked, the whole checked, stored playable, resumable."""
import hashlib

import av
import cv2
import numpy as np
import pytest

import contract
from camera_node.avi import MjpegAviWriter
from gateway.clips import ClipFetcher
from gateway.config import ClipsConfig, LimitsConfig, RetentionConfig
from gateway.ingest import Ingestor
from gateway.media import MediaStore
from gateway.retention import make_room
from tests.gateway.test_store_ingest import ev

CHUNK = contract.CLIP_CHUNK_BYTES


def clip_file(path, frames=40, size=(160, 120)):
    """A real MJPEG AVI as the node writes it: noisy frames, so it spans several chunks."""
    writer = MjpegAviWriter(path, *size, fps=10.0)
    rng = np.random.default_rng(0)
    for _ in range(frames):
        image = cv2.GaussianBlur(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8), (3, 3), 0)
        writer.write(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes())
    writer.close()
    return path


def manifest_of(data: bytes, event_id: str = "1000-cam1") -> bytes:
    return contract.ClipManifest(event_id=event_id, available=True, bytes=len(data), sha256=hashlib.sha256(data).hexdigest()).to_bytes()


def chunks_of(data: bytes) -> list[bytes]:
    return [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]


@pytest.fixture
def fetcher(store, tmp_path):
    media = MediaStore(tmp_path / "media")
    asked = []
    f = ClipFetcher(ClipsConfig(parts_dir=tmp_path / "parts", resume_after=0.01), store, media, lambda cam, req: asked.append((cam, req)))
    ingest = Ingestor(store, media, "smartcam", LimitsConfig(), clips=f)
    assert ingest.handle("smartcam/cam1/events", ev("new", 0))
    f.asked, f.ingest = asked, ingest
    return f


def test_a_clip_asked_for_arrives_in_any_order_with_duplicates_and_is_stored_playable(fetcher, store, tmp_path):
    data = clip_file(tmp_path / "c.avi").read_bytes()
    assert len(data) > 3 * CHUNK
    fetcher.fetch("cam1", "1000-cam1")
    assert fetcher.asked == [("cam1", contract.ClipRequest(event_id="1000-cam1"))]
    assert fetcher.ingest.handle("smartcam/cam1/clip/1000-cam1/manifest", manifest_of(data))
    parts = chunks_of(data)
    last = len(parts) - 1
    for i in [last, last, *reversed(range(last))]:  # out of order, one chunk twice (a QoS 1 redelivery)
        assert fetcher.ingest.handle(f"smartcam/cam1/clip/1000-cam1/{i}", parts[i])
    fetcher.wait_finished()  # checked, transcoded and stored off the network thread
    assert fetcher.status("cam1", "1000-cam1") == {"state": "stored"} and fetcher.duplicates == 1
    assert fetcher.asked[-1] == ("cam1", contract.ClipRequest(event_id="1000-cam1", fetched=True))  # the node may let it go first
    event = store.event("cam1", "1000-cam1")
    assert event["clip_source_sha256"] == hashlib.sha256(data).hexdigest()
    stored = store.thumbnail(event["clip_sha"])
    with av.open(str(fetcher.media.path(stored["path"]))) as video:
        assert video.streams.video[0].codec_context.name == "h264" and sum(1 for _ in video.decode(video=0)) == 40
    assert store.stored_bytes() == stored["bytes"] and not list((tmp_path / "parts").iterdir())


@pytest.mark.parametrize("topic, payload, reason", [
    ("smartcam/cam1/clip/9-x/0", b"x" * CHUNK, "no one asked"),
    ("smartcam/cam1/clip/1000-cam1/0", b"x" * CHUNK, "before its manifest"),
])
def test_clip_data_nobody_asked_for_is_rejected_and_counted(fetcher, topic, payload, reason):
    fetcher.fetch("cam1", "1000-cam1")
    assert not fetcher.ingest.handle(topic, payload)
    assert fetcher.ingest.counters.rejected["ContractError"] == 1


def test_chunks_out_of_range_or_of_the_wrong_size_are_rejected_and_nothing_half_written_is_served(fetcher, store, tmp_path):
    data = clip_file(tmp_path / "c.avi").read_bytes()
    fetcher.fetch("cam1", "1000-cam1")
    fetcher.ingest.handle("smartcam/cam1/clip/1000-cam1/manifest", manifest_of(data))
    n = len(chunks_of(data))
    assert not fetcher.ingest.handle(f"smartcam/cam1/clip/1000-cam1/{n}", b"x" * 10)  # out of range
    assert not fetcher.ingest.handle("smartcam/cam1/clip/1000-cam1/0", b"x" * (CHUNK + 1))  # oversized
    assert not fetcher.ingest.handle("smartcam/cam1/clip/1000-cam1/0", b"x" * 100)  # short
    assert fetcher.ingest.counters.rejected["ContractError"] == 3
    assert fetcher.status("cam1", "1000-cam1") == {"state": "fetching", "received": 0, "chunks": n}
    assert store.event("cam1", "1000-cam1")["clip_sha"] is None


def test_a_clip_that_does_not_match_its_manifests_hash_is_discarded_and_asked_for_again(fetcher, store, tmp_path):
    data = clip_file(tmp_path / "c.avi").read_bytes()
    fetcher.fetch("cam1", "1000-cam1")
    fetcher.ingest.handle("smartcam/cam1/clip/1000-cam1/manifest", manifest_of(data))
    parts = chunks_of(data)
    parts[1] = bytes(reversed(parts[1]))  # corrupted on the way (same size)
    for i, part in enumerate(parts):
        fetcher.ingest.handle(f"smartcam/cam1/clip/1000-cam1/{i}", part)
    fetcher.wait_finished()
    assert fetcher.hash_mismatches == 1 and store.event("cam1", "1000-cam1")["clip_sha"] is None
    assert len(fetcher.asked) == 2 and fetcher.status("cam1", "1000-cam1")["state"] == "fetching"


def test_a_quiet_transfer_is_resumed_by_asking_for_the_missing_chunks_only(fetcher, tmp_path):
    import time

    data = clip_file(tmp_path / "c.avi").read_bytes()
    fetcher.fetch("cam1", "1000-cam1")
    fetcher.ingest.handle("smartcam/cam1/clip/1000-cam1/manifest", manifest_of(data))
    parts = chunks_of(data)
    for i in range(0, len(parts), 2):  # every other chunk arrives, then the broker restarts
        fetcher.ingest.handle(f"smartcam/cam1/clip/1000-cam1/{i}", parts[i])
    time.sleep(0.02)
    assert fetcher.resume() == 1
    assert fetcher.asked[-1][1].chunks == list(range(1, len(parts), 2))
    for i in range(1, len(parts), 2):
        fetcher.ingest.handle(f"smartcam/cam1/clip/1000-cam1/{i}", parts[i])
    fetcher.wait_finished()
    assert fetcher.status("cam1", "1000-cam1") == {"state": "stored"}


def test_a_node_without_the_clip_says_so_and_the_gateway_stops_asking(fetcher):
    fetcher.fetch("cam1", "1000-cam1")
    gone = contract.ClipManifest(event_id="1000-cam1", available=False, reason="deleted to keep the card under its cap")
    assert fetcher.ingest.handle("smartcam/cam1/clip/1000-cam1/manifest", gone.to_bytes())
    assert fetcher.status("cam1", "1000-cam1") == {"state": "unavailable", "reason": "deleted to keep the card under its cap"}
    assert fetcher.resume() == 0


def test_stored_clips_count_in_the_size_cap_and_go_with_their_events(fetcher, store, tmp_path):
    data = clip_file(tmp_path / "c.avi").read_bytes()
    fetcher.fetch("cam1", "1000-cam1")
    fetcher.ingest.handle("smartcam/cam1/clip/1000-cam1/manifest", manifest_of(data))
    for i, part in enumerate(chunks_of(data)):
        fetcher.ingest.handle(f"smartcam/cam1/clip/1000-cam1/{i}", part)
    fetcher.wait_finished()
    path = fetcher.media.path(store.thumbnail(store.event("cam1", "1000-cam1")["clip_sha"])["path"])
    assert path.exists() and store.stored_bytes() > 0
    make_room(store, fetcher.media, RetentionConfig(max_gb=1e-9), 0)  # a cap of 1 byte
    assert store.event("cam1", "1000-cam1") is None and not path.exists() and store.stored_bytes() == 0

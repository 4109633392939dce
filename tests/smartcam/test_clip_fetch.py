"""Clips on demand end to end: a node's clip server and the gateway over a real Mosquitto that restarts mid-transfer."""
import hashlib
import logging
import time

import av

import contract
from camera_node.clip_server import ClipServer
from camera_node.publisher import Publisher
from camera_node.spool import Spool
from tests.conftest import Mosquitto
from tests.gateway.test_clips import clip_file
from tests.gateway.test_store_ingest import ev
from tests.smartcam.test_faults import gateway


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_clip_fetch_survives_a_broker_restart_mid_transfer_and_asks_only_for_what_is_missing(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    broker = Mosquitto(tmp_path)
    clips = tmp_path / "node" / "clips"
    clips.mkdir(parents=True)
    data = clip_file(clips / "1000-cam1.avi", frames=60, size=(320, 240)).read_bytes()
    n = -(-len(data) // contract.CLIP_CHUNK_BYTES)
    pub = Publisher(broker.url, "smartcam", "cam1", Spool(tmp_path / "queue", 1 << 20))
    server = ClipServer(clips, pub.send_now, rate_bytes_per_s=len(data) / 8)  # about 8 s for the whole clip
    pub.on_clip_request = server.request
    pub.start()
    server.start()
    daemon = gateway(broker.url, tmp_path)
    try:
        assert wait_for(lambda: pub.connected, 15)
        pub.publish(contract.TopicKind.EVENTS, ev("new", 0), contract.QOS_EVENTS)
        assert wait_for(lambda: daemon.store.event("cam1", "1000-cam1") is not None)
        daemon.clips.fetch("cam1", "1000-cam1")
        assert wait_for(lambda: daemon.clips.status("cam1", "1000-cam1").get("received", 0) >= n // 4)
        broker.stop()  # mid-transfer
        time.sleep(1.0)
        broker.start()
        assert wait_for(lambda: daemon.clips.status("cam1", "1000-cam1") == {"state": "stored"}, 90), daemon.clips.status("cam1", "1000-cam1")
        event = daemon.store.event("cam1", "1000-cam1")
        assert event["clip_source_sha256"] == hashlib.sha256(data).hexdigest()
        with av.open(str(daemon.media.path(daemon.store.thumbnail(event["clip_sha"])["path"]))) as video:
            assert sum(1 for _ in video.decode(video=0)) == 60
        resumed = [r.message for r in caplog.records if "resuming the clip" in r.message]
        assert resumed and "chunk(s) missing" in resumed[0]  # it asked for the rest, not for everything again
        assert server.chunks_sent < 2 * n
        assert daemon.metrics()["clips"] == {"stored": 1, "hash_mismatches": 0, "duplicate_chunks": daemon.clips.duplicates}
    finally:
        server.stop()
        pub.stop(timeout=2)
        daemon.stop()
        broker.stop()

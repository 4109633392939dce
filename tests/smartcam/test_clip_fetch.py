"""Clips on demand end to end: a node's clip server and the gateway over a real Mosquitto that restarts mid-transfer."""
import hashlib
import logging
import threading
import time
import uuid

import av

import contract
from camera_node.clip_server import ClipServer
from camera_node.config import NodeConfig
from camera_node.publisher import Publisher
from camera_node.simulate import simulate
from camera_node.spool import Spool
from tests.camera_node.test_simulate import real_scenario  # noqa: F401  (module-scoped fixture)
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


def test_a_simulated_nodes_event_clip_is_fetched_from_its_card_while_it_runs(real_scenario, tmp_path, broker_url):  # noqa: F811
    camera = f"sim{uuid.uuid4().hex[:6]}"
    daemon = gateway(broker_url, tmp_path)
    run = {}
    node = threading.Thread(target=lambda: run.update(simulate(
        NodeConfig(camera_id=camera), str(real_scenario / "scenario.avi"), tmp_path / "node", broker=broker_url, progress=False,
        serve_clips=5.0)))
    node.start()
    try:
        assert wait_for(lambda: any(e["state"] == "ended" for e in daemon.store.events(camera=camera)), 120)
        event_id = next(e["event_id"] for e in daemon.store.events(camera=camera) if e["state"] == "ended")
        daemon.clips.fetch(camera, event_id)
        assert wait_for(lambda: daemon.clips.status(camera, event_id) == {"state": "stored"}, 120), daemon.clips.status(camera, event_id)
        on_card = tmp_path / "node" / "clips" / f"{event_id}.avi"
        event = daemon.store.event(camera, event_id)
        assert event["clip_source_sha256"] == hashlib.sha256(on_card.read_bytes()).hexdigest()
        with av.open(str(on_card)) as original, av.open(str(daemon.media.path(daemon.store.thumbnail(event["clip_sha"])["path"]))) as mp4:
            assert sum(1 for _ in mp4.decode(video=0)) == sum(1 for _ in original.decode(video=0)) > 0
    finally:
        node.join(180)
        daemon.stop()


def test_a_clip_fetch_survives_a_node_reboot_mid_transfer(tmp_path, caplog, broker_url):
    """The node's process restarts (a watchdog reset): its clip is still on the card, and the gateway's next request
    for the missing chunks is answered by the new process."""
    caplog.set_level(logging.INFO)
    camera = f"reboot{uuid.uuid4().hex[:6]}"
    clips = tmp_path / "node" / "clips"
    clips.mkdir(parents=True)
    event_id = f"1000-{camera}"
    data = clip_file(clips / f"{event_id}.avi", frames=60, size=(320, 240)).read_bytes()
    n = -(-len(data) // contract.CLIP_CHUNK_BYTES)

    def boot():
        pub = Publisher(broker_url, "smartcam", camera, Spool(tmp_path / "queue", 1 << 20))
        server = ClipServer(clips, pub.send_now, rate_bytes_per_s=len(data) / 6)
        pub.on_clip_request = server.request
        pub.start()
        server.start()
        assert wait_for(lambda: pub.connected, 15)
        return pub, server

    daemon = gateway(broker_url, tmp_path)
    pub, server = boot()
    try:
        pub.publish(contract.TopicKind.EVENTS, ev("new", 0, camera=camera, event_id=event_id), contract.QOS_EVENTS)
        assert wait_for(lambda: daemon.store.event(camera, event_id) is not None)
        daemon.clips.fetch(camera, event_id)
        assert wait_for(lambda: daemon.clips.status(camera, event_id).get("received", 0) >= n // 4)
        server.stop()  # the reset: the process is gone mid-transfer (its worker stops after the chunk in hand)
        pub.client.disconnect()
        pub.client.loop_stop()
        pub, server = boot()
        assert wait_for(lambda: daemon.clips.status(camera, event_id) == {"state": "stored"}, 90), daemon.clips.status(camera, event_id)
        assert daemon.store.event(camera, event_id)["clip_source_sha256"] == hashlib.sha256(data).hexdigest()
        assert any("chunk(s) missing" in r.message for r in caplog.records if "resuming the clip" in r.message)
    finally:
        server.stop()
        pub.stop(timeout=2)
        daemon.stop()

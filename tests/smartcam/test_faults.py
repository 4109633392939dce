"""Faults across node, broker and gateway, each against real parts and each asserting nothing is lost:
a minute-long broker outage mid-stream, and a gateway whose disk fills up and empties again."""
import os
import time
import uuid

import pytest

import contract
from camera_node.publisher import Publisher
from camera_node.spool import Spool
from gateway.daemon import GatewayDaemon
from tests.conftest import Mosquitto, tmpfs
from tests.gateway.test_daemon import gateway_cfg
from tests.gateway.test_store_ingest import ev, jpeg

OUTAGE_SECONDS = float(os.environ.get("SMARTCAM_OUTAGE_SECONDS", "60"))


def gateway(url: str, tmp_path, media_dir=None) -> GatewayDaemon:
    cfg = gateway_cfg(url, f"sqlite:///{tmp_path}/gw.db", tmp_path)
    if media_dir is not None:
        cfg.store.media_dir = media_dir
    daemon = GatewayDaemon(cfg)
    daemon.start()
    assert daemon.wait_connected(15)
    time.sleep(0.3)
    return daemon


def send_event(pub: Publisher, camera: str, i: int) -> None:
    event_id = f"{1000 + i}-{camera}"
    pub.publish(contract.TopicKind.EVENTS, ev("new", 0, camera=camera, event_id=event_id, start_time=1000.0 + i), contract.QOS_EVENTS)
    pub.publish(contract.TopicKind.THUMBNAIL, jpeg(40 + i, 50, (i * 7 % 255, 90, 40)), contract.QOS_THUMBNAIL, event_id=event_id)
    pub.publish(contract.TopicKind.EVENTS, ev("end", 1, camera=camera, event_id=event_id, start_time=1000.0 + i, end_time=1002.0 + i), contract.QOS_EVENTS)


def test_a_minute_long_broker_outage_loses_no_event(tmp_path):
    broker = Mosquitto(tmp_path)
    daemon = gateway(broker.url, tmp_path)
    cameras = [f"cam{k}-{uuid.uuid4().hex[:4]}" for k in range(3)]
    cap = 1024 * 1024  # what the card spends: 75 messages of one file (a 4 KiB block here) each, with room
    pubs = {c: Publisher(broker.url, "smartcam", c, Spool(tmp_path / c, cap)) for c in cameras}
    for p in pubs.values():
        p.start()
    try:
        for i in range(10):
            for c, p in pubs.items():
                send_event(p, c, i)
        assert all(p.wait_drained(20) for p in pubs.values())
        broker.stop()
        outage_started = time.monotonic()
        peak = 0
        for i in range(10, 30):  # the cameras keep detecting while the broker is down
            for c, p in pubs.items():
                send_event(p, c, i)
                peak = max(peak, p.spool.bytes)
            time.sleep(OUTAGE_SECONDS / 40)
        assert all(len(p.spool) == 60 for p in pubs.values())  # 20 events x 3 messages each, on disk
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - outage_started)))
        broker.start()
        for i in range(30, 35):
            for c, p in pubs.items():
                send_event(p, c, i)
        assert all(p.wait_drained(90) for p in pubs.values())
        assert [p.spool.dropped for p in pubs.values()] == [0, 0, 0]  # every queue held its backlog
        assert daemon.wait_connected(60)  # the gateway's backoff may bring it back after the cameras
        assert daemon.idle(quiet=1.0, timeout=60)
        for c, p in pubs.items():
            rows = daemon.store.events(camera=c, limit=100)
            missing = {f"{1000 + i}-{c}" for i in range(35)} - {r["event_id"] for r in rows}
            assert len(rows) == 35 and not missing, f"{c}: {len(rows)} rows, missing {sorted(missing)}"
            assert all(r["state"] == "ended" and r["thumbnail_sha"] for r in rows)
            arrival = [r["received_at"] for r in sorted(rows, key=lambda r: r["start_time"])]
            assert arrival == sorted(arrival)  # drained oldest first
        assert peak <= cap
        assert not daemon.ingestor.counters.rejected and not daemon.ingestor.counters.store_errors
    finally:
        for p in pubs.values():
            p.stop(timeout=2)
        daemon.stop()
        broker.stop()


@pytest.fixture
def small_disk(tmp_path):
    """A real 1 MiB filesystem for the gateway's media folder."""
    with tmpfs(tmp_path / "disk", "1m") as mnt:
        yield mnt


def test_a_full_gateway_disk_holds_messages_until_space_returns(tmp_path, small_disk, broker_url):
    media = small_disk / "media"
    daemon = gateway(broker_url, tmp_path, media)
    filler = small_disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:  # fill the disk to the last block
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    camera = f"cam{uuid.uuid4().hex[:6]}"
    pub = Publisher(broker_url, "smartcam", camera, Spool(tmp_path / "q", 1 << 20))
    pub.start()
    try:
        for i in range(5):
            send_event(pub, camera, i)
        assert pub.wait_drained(20)
        time.sleep(2.0)
        assert sum(daemon.ingestor.counters.store_errors.values()) >= 1  # the write failed loudly ...
        assert not daemon.ingestor.counters.rejected  # ... and nothing was rejected: the messages wait
        assert daemon._sweeper.is_alive() and daemon.client.is_connected()  # ... and the daemon lives on
        filler.unlink()  # space returns
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len([r for r in daemon.store.events(camera=camera) if r["thumbnail_sha"]]) < 5:
            time.sleep(0.2)
        rows = daemon.store.events(camera=camera)
        assert len(rows) == 5 and all(r["state"] == "ended" and r["thumbnail_sha"] for r in rows)
        for r in rows:
            assert (media / daemon.store.thumbnail(r["thumbnail_sha"])["path"]).is_file()
    finally:
        pub.stop(timeout=2)
        daemon.stop()

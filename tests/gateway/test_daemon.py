"""The daemon against a real Mosquitto: flow into the store, rejects counted, and SIGKILL mid-stream loses nothing."""
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import astuple

import paho.mqtt.client as mqtt

from contract import parse_broker_url
from gateway.config import GatewayConfig
from gateway.daemon import GatewayDaemon
from gateway.homeassistant import discovery_messages
from gateway.media import MediaStore
from gateway.retention import sweep
from gateway.store import Store
from tests.gateway.test_store_ingest import ev, jpeg, stats


def publisher(url):
    host, port = astuple(parse_broker_url(url))[:2]
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:6]}")
    client.connect(host, port)
    client.loop_start()
    return client


def send(client, topic, payload):
    client.publish(topic, payload, qos=1).wait_for_publish(10)


def gateway_cfg(url, dsn, tmp_path, **mqtt_kw):
    return GatewayConfig(
        mqtt={"url": url, "client_id": f"gw-{uuid.uuid4().hex[:8]}", **mqtt_kw},
        store={"dsn": dsn, "media_dir": str(tmp_path / "media")},
        clips={"parts_dir": str(tmp_path / "clip-parts"), "resume_after": 2.0},
        homeassistant={"enabled": True},
    )


def test_messages_flow_into_the_store_and_bad_ones_are_counted(broker_url, dsn, tmp_path):
    cfg = gateway_cfg(broker_url, dsn, tmp_path)
    daemon = GatewayDaemon(cfg)
    daemon.start()
    assert daemon.wait_connected(10)
    time.sleep(0.3)
    cam = f"c{uuid.uuid4().hex[:6]}"
    pub = publisher(broker_url)
    send(pub, f"smartcam/{cam}/events", ev("new", 0, camera=cam, event_id=f"1-{cam}"))
    send(pub, f"smartcam/{cam}/thumbnail/1-{cam}", jpeg())
    send(pub, f"smartcam/{cam}/events", ev("end", 1, camera=cam, event_id=f"1-{cam}", end_time=1005.0))
    send(pub, f"smartcam/{cam}/stats", stats(camera=cam))
    send(pub, f"smartcam/{cam}/events", b"\x00garbage")
    send(pub, f"smartcam/{cam}/thumbnail/2-{cam}", b"\xff\xd8" + os.urandom(300_000))  # oversized
    send(pub, f"smartcam/{cam}/events", ev("new", 0, camera="other", event_id="1-other"))  # camera spoofing
    assert daemon.idle(quiet=0.5, timeout=20)
    (row,) = daemon.store.events(camera=cam)
    assert row["state"] == "ended" and row["thumbnail_sha"]
    assert daemon.store.ledger(camera=cam)[0]["continuous_bytes"] == 1000
    rejected = daemon.metrics()["rejected"]
    assert rejected["ContractError"] == 2 and rejected["BadImage"] == 1
    daemon.stop()
    pub.loop_stop()


def test_home_assistant_discovery_is_retained_per_camera(broker_url, tmp_path):
    cfg = gateway_cfg(broker_url, f"sqlite:///{tmp_path}/gw.db", tmp_path)
    daemon = GatewayDaemon(cfg)
    daemon.start()
    assert daemon.wait_connected(10)
    time.sleep(0.3)
    cam = f"h{uuid.uuid4().hex[:6]}"
    pub = publisher(broker_url)
    send(pub, f"smartcam/{cam}/availability", b"online")
    assert daemon.idle(timeout=10)
    seen = {}
    host, port = astuple(parse_broker_url(broker_url))[:2]
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sub.on_message = lambda c, u, m: seen.__setitem__(m.topic, m.payload)
    sub.connect(host, port)
    sub.subscribe(f"homeassistant/+/smartcam_{cam}/+/config")
    sub.loop_start()
    deadline = time.monotonic() + 10
    while len(seen) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    sub.loop_stop()
    assert {t.split("/")[1] for t in seen} == {"binary_sensor", "image", "sensor"}
    occupancy = json.loads(seen[f"homeassistant/binary_sensor/smartcam_{cam}/occupancy/config"])
    assert occupancy["device_class"] == "occupancy" and occupancy["state_topic"] == f"smartcam/_gateway/{cam}/occupancy"
    topics = list(seen)
    for topic in topics:  # clean the retained configs up ...
        pub.publish(topic, b"", retain=True).wait_for_publish(5)
    time.sleep(0.3)
    seen.clear()
    sub.loop_start()
    send(pub, "homeassistant/status", b"online")  # ... and Home Assistant restarting gets them again
    deadline = time.monotonic() + 10
    while len([t for t in seen if seen[t]]) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    sub.loop_stop()
    assert sorted(t for t in seen if seen[t]) == sorted(topics)
    for topic in topics:
        pub.publish(topic, b"", retain=True).wait_for_publish(5)
    daemon.stop()
    pub.loop_stop()



def test_sigkill_mid_stream_loses_nothing_and_duplicates_nothing(own_broker, dsn, tmp_path):
    media = tmp_path / "media"
    client_id = f"gw-kill-{uuid.uuid4().hex[:6]}"
    cfg_file = tmp_path / "gw.yaml"
    cfg_file.write_text(json.dumps({"mqtt": {"client_id": client_id, "url": own_broker.url}, "homeassistant": {"enabled": False}}))
    cmd = [sys.executable, "-m", "smartcam", "gateway", "run", "--no-api", "--config", str(cfg_file), "--dsn", dsn, "--media", str(media)]
    gw = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(3)  # first start: create the persistent session
    pub = publisher(own_broker.url)
    n = 120
    kills = 0
    for i in range(n):
        cam = f"cam{i % 3}"
        send(pub, f"smartcam/{cam}/events", ev("new", 0, camera=cam, event_id=f"{i}-{cam}", start_time=1000.0 + i))
        send(pub, f"smartcam/{cam}/thumbnail/{i}-{cam}", jpeg(30 + i % 50, 40, (i % 255, 80, 20)))
        send(pub, f"smartcam/{cam}/events", ev("end", 1, camera=cam, event_id=f"{i}-{cam}", end_time=1001.0 + i))
        if i % 17 == 5:
            gw.send_signal(signal.SIGKILL)
            gw.wait()
            kills += 1
            time.sleep(0.2)
            gw = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = Store(dsn)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = store.events(limit=10_000)
        if len(rows) == n and all(r["state"] == "ended" and r["thumbnail_sha"] for r in rows):
            break
        time.sleep(0.5)
    gw.send_signal(signal.SIGTERM)
    gw.wait(20)
    rows = store.events(limit=10_000)
    assert kills >= 6
    assert len(rows) == n == len({(r["camera_id"], r["event_id"]) for r in rows})
    assert all(r["state"] == "ended" and r["thumbnail_sha"] for r in rows)
    m = MediaStore(media)
    for r in rows:
        assert m.path(store.thumbnail(r["thumbnail_sha"])["path"]).exists()  # no row points at a missing file
    from gateway.config import RetentionConfig

    sweep(store, m, RetentionConfig(days=1e6), orphan_grace=0)
    assert sorted(m.files()) == sorted(store.thumbnail_paths())  # no orphan files after the sweeper
    pub.loop_stop()


def test_a_stats_message_with_numbers_no_store_can_hold_is_rejected_and_the_stream_goes_on(broker_url, dsn, tmp_path):
    daemon = GatewayDaemon(gateway_cfg(broker_url, dsn, tmp_path))
    daemon.start()
    assert daemon.wait_connected(10)
    time.sleep(0.3)
    cam = f"c{uuid.uuid4().hex[:6]}"
    pub = publisher(broker_url)
    good = json.loads(stats(camera=cam))
    huge = {**good, "ledger": {**good["ledger"], "continuous_bytes": 10**30}}  # past any SQL integer
    endless = json.dumps({**good, "ledger": {**good["ledger"], "seconds": 1}}, separators=(",", ":")).replace('"seconds":1', '"seconds":Infinity')
    send(pub, f"smartcam/{cam}/stats", json.dumps(huge).encode())
    send(pub, f"smartcam/{cam}/stats", endless.encode())
    for i in range(5):  # queued behind the poison: all must be stored
        send(pub, f"smartcam/{cam}/events", ev("new", 0, camera=cam, event_id=f"{i}-{cam}"))
    try:
        assert daemon.idle(quiet=0.5, timeout=20)
        assert len(daemon.store.events(camera=cam)) == 5
        assert daemon.metrics()["rejected"]["ContractError"] == 2
        assert daemon.store.ledger(camera=cam) == []
    finally:
        daemon.stop()
        pub.loop_stop()


def test_a_share_group_does_not_silently_become_a_plain_subscription_on_a_3_1_1_broker(tmp_path):
    from smartcam.broker import EmbeddedBroker

    with EmbeddedBroker(prefer_mosquitto=False) as url:  # amqtt: MQTT 3.1.1 only
        refused = GatewayDaemon(gateway_cfg(url, f"sqlite:///{tmp_path}/a.db", tmp_path, share_group="gw"))
        refused.start()
        try:
            assert not refused.wait_connected(8)  # two gateways would otherwise both ingest everything
            assert refused.metrics()["protocol_fallbacks"] == 0
        finally:
            refused.stop()
        allowed = GatewayDaemon(gateway_cfg(url, f"sqlite:///{tmp_path}/b.db", tmp_path, share_group="gw",
                                            allow_unshared_fallback=True))
        allowed.start()
        try:
            assert allowed.wait_connected(15) and allowed.metrics()["protocol_fallbacks"] == 1
        finally:
            allowed.stop()


def retained(url: str, topic: str, timeout: float = 5.0) -> bytes | None:
    """What a client subscribing now (Home Assistant after a restart) gets on ``topic``."""
    host, port = astuple(parse_broker_url(url))[:2]
    got = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sub.on_message = lambda c, u, m: got.append(m.payload)
    sub.connect(host, port)
    sub.subscribe(topic, qos=1)
    sub.loop_start()
    deadline = time.monotonic() + timeout
    while not got and time.monotonic() < deadline:
        time.sleep(0.05)
    sub.loop_stop()
    sub.disconnect()
    return got[0] if got else None


@contextlib.contextmanager
def home_assistant_camera(broker_url, tmp_path, **retention):
    """A running daemon (Home Assistant on), a publisher and a fresh camera; what the camera left retained on the
    machine's broker (its occupancy, its discovery configs) is cleared afterwards."""
    cfg = gateway_cfg(broker_url, f"sqlite:///{tmp_path}/gw.db", tmp_path)
    for key, value in retention.items():
        setattr(cfg.retention, key, value)
    daemon = GatewayDaemon(cfg)
    daemon.start()
    assert daemon.wait_connected(10)
    time.sleep(0.3)
    cam = f"o{uuid.uuid4().hex[:6]}"
    pub = publisher(broker_url)
    state = f"smartcam/_gateway/{cam}/occupancy"
    try:
        yield daemon, pub, cam, state
    finally:
        pub.publish(state, b"", retain=True).wait_for_publish(5)
        for topic, _ in discovery_messages("homeassistant", "smartcam", cam):
            pub.publish(topic, b"", retain=True).wait_for_publish(5)
        daemon.stop()
        pub.loop_stop()


def test_occupancy_is_a_retained_state_home_assistant_finds_after_a_restart(broker_url, tmp_path):
    with home_assistant_camera(broker_url, tmp_path) as (daemon, pub, cam, state):
        send(pub, f"smartcam/{cam}/events", ev("new", 0, camera=cam, event_id=f"1-{cam}"))
        assert daemon.idle(timeout=10) and retained(broker_url, state) == b"ON"
        send(pub, f"smartcam/{cam}/events", ev("new", 0, camera=cam, event_id=f"2-{cam}-bbbbbb", start_time=1100.0))
        send(pub, f"smartcam/{cam}/events", ev("end", 1, camera=cam, event_id=f"2-{cam}-bbbbbb", start_time=1100.0, end_time=1110.0))
        assert daemon.idle(timeout=10) and retained(broker_url, state) == b"OFF"  # the orphan ended too: nobody there
        (_, config), = [m for m in discovery_messages("homeassistant", "smartcam", cam) if "binary_sensor" in m[0]]
        assert json.loads(config)["state_topic"] == state


def test_an_event_a_camera_left_open_when_it_went_offline_for_good_is_ended_and_home_assistant_told(broker_url, tmp_path):
    with home_assistant_camera(broker_url, tmp_path, sweep_every=0.2, end_offline_events_after=0.5) as (daemon, pub, cam, state):
        send(pub, f"smartcam/{cam}/events", ev("new", 0, camera=cam, event_id=f"1-{cam}"))
        assert daemon.idle(timeout=10) and retained(broker_url, state) == b"ON"
        send(pub, f"smartcam/{cam}/availability", b"offline")  # its last will: the node died mid-event
        deadline = time.monotonic() + 10
        while daemon.store.event(cam, f"1-{cam}")["state"] == "open" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert daemon.store.event(cam, f"1-{cam}")["state"] == "ended"
        time.sleep(0.3)
        assert retained(broker_url, state) == b"OFF"


def test_the_daemon_is_not_idle_while_a_message_is_still_being_stored(own_broker, tmp_path):
    """A slow disk (a commit that takes longer than the quiet period) must not read as idle: a caller that
    waits for idle and then reads the store finds every message that had arrived."""
    daemon = GatewayDaemon(gateway_cfg(own_broker.url, f"sqlite:///{tmp_path}/gw.db", tmp_path))
    handle, started = daemon.ingestor.handle, threading.Event()

    def slow_handle(topic, payload, *args):  # the disk stalls for 1.5 s on this write
        started.set()
        time.sleep(1.5)
        return handle(topic, payload, *args)

    daemon.ingestor.handle = slow_handle
    daemon.start()
    try:
        assert daemon.wait_connected(10)
        cam = f"s{uuid.uuid4().hex[:6]}"
        pub = publisher(own_broker.url)
        send(pub, f"smartcam/{cam}/events", ev("new", 0, camera=cam, event_id=f"1-{cam}"))
        assert started.wait(10)
        assert daemon.idle(quiet=0.3, timeout=10)
        assert [r["event_id"] for r in daemon.store.events(camera=cam)] == [f"1-{cam}"]
        pub.loop_stop()
    finally:
        daemon.stop()


def test_the_gateway_logs_each_stored_event_and_a_clean_stop_is_no_warning(own_broker, tmp_path, caplog):
    daemon = GatewayDaemon(gateway_cfg(own_broker.url, f"sqlite:///{tmp_path}/gw.db", tmp_path))
    with caplog.at_level(logging.INFO, logger="gateway.daemon"):
        daemon.start()
        assert daemon.wait_connected(10)
        cam = f"l{uuid.uuid4().hex[:6]}"
        pub = publisher(own_broker.url)
        send(pub, f"smartcam/{cam}/events", ev("new", 0, camera=cam, event_id=f"1-{cam}"))
        assert daemon.idle(quiet=0.3, timeout=10)
        pub.loop_stop()
        daemon.stop()
    assert f"stored new of event 1-{cam} (camera {cam}" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_events_of_the_chosen_cameras_or_zones_get_their_clip_asked_for_when_they_end(broker_url, tmp_path):
    import contract
    from tests.camera_node.test_publisher import Collector

    cam, other, zoned = (f"{n}{uuid.uuid4().hex[:6]}" for n in ("auto", "plain", "zoned"))
    cfg = gateway_cfg(broker_url, f"sqlite:///{tmp_path}/gw.db", tmp_path)
    cfg.clips.auto_fetch_cameras, cfg.clips.auto_fetch_zones = [cam], ["door"]
    daemon = GatewayDaemon(cfg)
    daemon.start()
    assert daemon.wait_connected(10)
    requests = Collector(broker_url, "smartcam/+/clip/request")
    pub = publisher(broker_url)
    for camera, zones in ((cam, []), (other, ["yard"]), (zoned, ["door"])):
        send(pub, f"smartcam/{camera}/events", ev("new", 0, camera=camera, event_id=f"1-{camera}", zones=zones))
        send(pub, f"smartcam/{camera}/events", ev("end", 1, camera=camera, event_id=f"1-{camera}", zones=zones, end_time=1005.0))
    assert daemon.idle(quiet=0.5, timeout=20)
    assert requests.wait_for(lambda msgs: len(msgs) >= 2)
    time.sleep(0.3)
    asked = {(t.split("/")[1], contract.ClipRequest.model_validate_json(p).event_id) for t, p, _ in requests.messages}
    assert asked == {(cam, f"1-{cam}"), (zoned, f"1-{zoned}")}
    daemon.stop()
    pub.loop_stop()

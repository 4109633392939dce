"""Publishing through a real Mosquitto: order, availability, config, and an outage that loses nothing."""
import threading
import time
import uuid
from dataclasses import astuple
from types import SimpleNamespace

import paho.mqtt.client as mqtt
import pytest

import contract
from camera_node.publisher import Publisher
from camera_node.spool import Spool
from contract import parse_broker_url
from tests.conftest import fill, tmpfs


class Collector:
    """A persistent-session QoS 1 subscriber recording every message."""

    def __init__(self, url: str, topic: str) -> None:
        host, port = astuple(parse_broker_url(url))[:2]
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"collector-{uuid.uuid4().hex[:8]}", clean_session=False)
        self.ready = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p: (c.subscribe(topic, qos=1), self.ready.set())
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()
        assert self.ready.wait(10)
        time.sleep(0.2)

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.messages.append((msg.topic, msg.payload, msg.retain))

    def wait_for(self, predicate, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(self.messages):
                    return True
            time.sleep(0.05)
        return False

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def event(i: int, camera: str) -> bytes:
    return contract.EventMessage(type="new", event_id=f"{1000 + i}-{camera}", camera=camera, seq=0, start_time=1000.0 + i, score=0.9).to_bytes()


def payload_ids(messages, suffix="/events"):
    return [contract.EventMessage.from_bytes(p).event_id for t, p, _ in messages if t.endswith(suffix)]


def test_events_arrive_in_order_with_availability(broker_url, tmp_path):
    camera = f"cam{uuid.uuid4().hex[:6]}"
    collector = Collector(broker_url, f"smartcam/{camera}/#")
    pub = Publisher(broker_url, "smartcam", camera, Spool(tmp_path / "q", 1 << 20))
    pub.start()
    for i in range(20):
        pub.publish(contract.TopicKind.EVENTS, event(i, camera), contract.QOS_EVENTS)
    assert pub.wait_drained(20)
    pub.stop()
    assert collector.wait_for(lambda m: len(payload_ids(m)) == 20)
    assert payload_ids(collector.messages) == [f"{1000 + i}-{camera}" for i in range(20)]
    availability = [p for t, p, _ in collector.messages if t.endswith("/availability")]
    assert availability[0] == b"online" and availability[-1] == b"stopped"
    collector.close()


def test_alerts_still_go_out_when_the_card_is_full(broker_url, tmp_path):
    """The card is full (ENOSPC on every write): the queue holds the messages in memory and delivers them."""
    camera = f"cam{uuid.uuid4().hex[:6]}"
    collector = Collector(broker_url, f"smartcam/{camera}/#")
    with tmpfs(tmp_path / "card", "64k") as card:
        pub = Publisher(broker_url, "smartcam", camera, Spool(card / "q", 1 << 20))
        fill(card)
        pub.start()
        for i in range(5):
            pub.publish(contract.TopicKind.EVENTS, event(i, camera), contract.QOS_EVENTS)
        assert pub.wait_drained(20)
        pub.stop()
    assert collector.wait_for(lambda m: len(payload_ids(m)) == 5)
    assert payload_ids(collector.messages) == [f"{1000 + i}-{camera}" for i in range(5)] and pub.spool.dropped == 0
    collector.close()


def test_a_broker_outage_mid_stream_loses_no_event(own_broker, tmp_path):
    camera = "outage"
    collector = Collector(own_broker.url, f"smartcam/{camera}/events")
    pub = Publisher(own_broker.url, "smartcam", camera, Spool(tmp_path / "q", 1 << 20))
    pub.start()
    for i in range(10):
        pub.publish(contract.TopicKind.EVENTS, event(i, camera), contract.QOS_EVENTS)
    assert pub.wait_drained(20)
    own_broker.stop()
    deadline = time.monotonic() + 10
    while pub.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pub.connected
    for i in range(10, 40):  # produced while the broker is down: spooled on disk
        pub.publish(contract.TopicKind.EVENTS, event(i, camera), contract.QOS_EVENTS)
    assert len(pub.spool) >= 25
    own_broker.start()
    assert pub.wait_drained(60), "spool did not drain after the broker came back"
    assert collector.wait_for(lambda m: {f"{1000 + i}-{camera}" for i in range(40)} <= set(payload_ids(m)), timeout=30)
    ids = payload_ids(collector.messages)
    first_seen = sorted(set(ids), key=ids.index)
    assert first_seen == [f"{1000 + i}-{camera}" for i in range(40)]  # in order; QoS 1 may repeat, never lose
    pub.stop()
    collector.close()


def test_config_set_messages_reach_the_node(broker_url, tmp_path):
    camera = f"cfg{uuid.uuid4().hex[:6]}"
    got = []
    pub = Publisher(broker_url, "smartcam", camera, Spool(tmp_path / "q", 1 << 20), on_config=got.append)
    pub.start()
    deadline = time.monotonic() + 10
    while not pub.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    host, port = astuple(parse_broker_url(broker_url))[:2]
    sender = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sender.connect(host, port)
    sender.loop_start()
    sender.publish(f"smartcam/{camera}/config/set", b'{"threshold": 0.8}', qos=1).wait_for_publish(5)
    sender.publish(f"smartcam/{camera}/config/set", b'{"threshold": 7}', qos=1).wait_for_publish(5)  # invalid: ignored
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    sender.loop_stop()
    pub.stop()
    assert [g.threshold for g in got] == [0.8]


@pytest.mark.parametrize("url", ["http://x", "mqtt://"])
def test_bad_broker_urls_are_rejected(url, tmp_path):
    with pytest.raises(ValueError):
        parse_broker_url(url)


def test_a_stopped_left_in_the_queue_by_the_last_boot_does_not_override_online(broker_url, tmp_path):
    camera = f"cam{uuid.uuid4().hex[:6]}"
    topic = f"smartcam/{camera}/availability"
    spool = Spool(tmp_path / "q", 1 << 20)
    from camera_node.spool import QueuedMessage

    spool.put(QueuedMessage(topic, contract.Availability.STOPPED.value.encode(), contract.QOS_AVAILABILITY, True))
    spool.put(QueuedMessage(f"smartcam/{camera}/events", event(0, camera), contract.QOS_EVENTS))
    collector = Collector(broker_url, f"smartcam/{camera}/#")
    pub = Publisher(broker_url, "smartcam", camera, spool)  # the next boot: the broker was away at the last stop
    pub.start()
    try:
        assert pub.wait_drained(20) and collector.wait_for(lambda m: len(payload_ids(m)) == 1)
        time.sleep(0.5)
        assert [p for t, p, _ in collector.messages if t == topic] == [b"online"]  # the stale 'stopped' is gone
    finally:
        pub.stop()
        collector.close()
        clear = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        host, port = astuple(parse_broker_url(broker_url))[:2]
        clear.connect(host, port)
        clear.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
        clear.disconnect()


def test_a_puback_that_is_late_is_waited_for_not_answered_with_a_second_copy(own_broker, tmp_path):
    import signal

    camera = "slowack"
    collector = Collector(own_broker.url, f"smartcam/{camera}/events")
    pub = Publisher(own_broker.url, "smartcam", camera, Spool(tmp_path / "q", 1 << 20))
    pub.start()
    try:
        deadline = time.monotonic() + 10
        while not pub.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        own_broker.proc.send_signal(signal.SIGSTOP)  # the broker stalls: the PUBLISH sits in its socket, no PUBACK
        pub.publish(contract.TopicKind.EVENTS, event(0, camera), contract.QOS_EVENTS)
        time.sleep(7.0)  # longer than the publisher's 5 s wait for a PUBACK
        own_broker.proc.send_signal(signal.SIGCONT)
        assert pub.wait_drained(20) and collector.wait_for(lambda m: len(payload_ids(m)) >= 1)
        time.sleep(1.0)
        assert payload_ids(collector.messages) == [f"1000-{camera}"]  # once, not once per timeout
    finally:
        own_broker.proc.send_signal(signal.SIGCONT)
        pub.stop()
        collector.close()


def test_an_unexpected_error_in_the_delivery_loop_is_counted_and_delivery_goes_on(own_broker, tmp_path):
    camera = f"cam{uuid.uuid4().hex[:6]}"
    collector = Collector(own_broker.url, f"smartcam/{camera}/events")
    spool = Spool(tmp_path / "q", 1 << 20)
    real_peek, failures = spool.peek, [RuntimeError("a bug in the queue")]

    def failing_once():
        if failures:
            raise failures.pop()
        return real_peek()

    spool.peek = failing_once
    pub = Publisher(own_broker.url, "smartcam", camera, spool)
    pub.start()
    try:
        for i in range(3):
            pub.publish(contract.TopicKind.EVENTS, event(i, camera), contract.QOS_EVENTS)
        assert collector.wait_for(lambda m: len(payload_ids(m)) == 3)
        assert pub.delivery_errors == 1 and not failures
    finally:
        pub.stop(timeout=2)
        collector.close()


def test_a_flood_of_malformed_messages_is_counted_and_logged_once(tmp_path, caplog):
    # anyone who may write the node's config/set topic (the gateway, an operator) sending garbage in a loop must
    # not flood the node's log (an SD card): the first is logged with its reason, the rest counted
    got = []
    pub = Publisher("mqtt://127.0.0.1:1", "smartcam", "cam1", Spool(tmp_path / "q", 1 << 20), on_config=got.append)
    topic = "smartcam/cam1/config/set"
    with caplog.at_level("WARNING", logger="camera_node.publisher"):
        for i in range(1000):
            pub._on_message(None, None, SimpleNamespace(topic=topic, payload=b'{"threshold": %d}' % (7 + i)))
        pub._on_message(None, None, SimpleNamespace(topic=topic, payload=b'{"threshold": 0.8}'))
    assert pub.rejected == 1000 and [g.threshold for g in got] == [0.8]
    assert len(caplog.records) == 1 and "threshold" in caplog.records[0].getMessage()

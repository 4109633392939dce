"""The gateway daemon: an MQTT 5 client (3.1.1 fallback) that hands messages to the ingestor.

* Persistent session (clean start off, session expiry set): a restart loses
  nothing the broker queued. Messages are ingested on the network thread and
  acknowledged *after* they are committed (manual ack), so a crash
  mid-ingest means redelivery, never loss.
* Optional shared subscription ``$share/<group>/...`` so several gateways
  split the load.
* "Connected" only on a successful CONNACK; reconnects with backoff.
* Availability retained with a last will (online / stopped / offline).
* Retention sweeps on a timer; Home Assistant discovery per camera.
"""
from __future__ import annotations

import json
import logging
import socket
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

import contract
from gateway.clips import ClipFetcher
from gateway.config import GatewayConfig
from gateway.homeassistant import OCCUPIED, VACANT, discovery_messages, gateway_topic
from gateway.ingest import Ingestor
from gateway.media import MediaStore
from gateway.report import summarise
from gateway.retention import make_room, sweep
from gateway.store import Store

logger = logging.getLogger(__name__)

KINDS = (contract.TopicKind.EVENTS, contract.TopicKind.THUMBNAIL, contract.TopicKind.STATS, contract.TopicKind.AVAILABILITY,
         contract.TopicKind.CLIP_MANIFEST)  # (one subscription for manifests and chunks)


class GatewayDaemon:
    """Owns the MQTT client, the ingest worker and the retention timer."""

    def __init__(self, cfg: GatewayConfig, store: Store | None = None) -> None:
        self.cfg = cfg
        self.store = store or Store(cfg.store.dsn)
        self.media = MediaStore(cfg.store.media_dir)
        room = lambda incoming: make_room(self.store, self.media, cfg.retention, incoming)
        self.clips = ClipFetcher(cfg.clips, self.store, self.media, self._request_clip, room)
        self.ingestor = Ingestor(self.store, self.media, cfg.mqtt.prefix, cfg.limits, on_event=self._on_ingested,
                                 make_room=room, clips=self.clips)
        self.connected = threading.Event()
        self.protocol = mqtt.MQTTv311 if cfg.mqtt.protocol == "3.1.1" else mqtt.MQTTv5
        self.protocol_fallbacks = 0  # switches to 3.1.1 (logged)
        self._connack = threading.Event()  # the broker answered a CONNECT (even with a refusal)
        self._fallback_lock = threading.Lock()  # the watchdog and on_connect may both ask
        self._fallback_refused = False
        self._stop = threading.Event()
        self._known_cameras: set[str] = set()
        self._last_message = 0.0  # monotonic time a message last arrived or was committed
        self._in_hand = 0  # messages being ingested right now (a slow commit is not idleness)
        self.client = self._make_client()
        self._sweeper = threading.Thread(target=self._sweep_loop, name="gateway-retention", daemon=True)
        self._resumer = threading.Thread(target=self._resume_loop, name="gateway-clips", daemon=True)

    @property
    def availability_topic(self) -> str:
        return gateway_topic(self.cfg.mqtt.prefix, self.cfg.mqtt.client_id, "availability")

    def _make_client(self) -> mqtt.Client:
        m = self.cfg.mqtt
        kwargs = {"clean_session": False} if self.protocol == mqtt.MQTTv311 else {}
        client = contract.new_client(m.client_id, self.protocol, **kwargs)
        address = contract.parse_broker_url(m.url)
        contract.secure_client(client, address, m.client_id, m.password(), m.tls)
        client.will_set(self.availability_topic, contract.Availability.OFFLINE.value, qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.manual_ack_set(True)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        props = None
        if self.protocol == mqtt.MQTTv5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = m.session_expiry
        client.connect_async(address.host, address.port, m.keepalive, clean_start=False if self.protocol == mqtt.MQTTv5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY, properties=props)
        return client

    # -- lifecycle --------------------------------------------------------
    def start(self) -> None:
        self.client.loop_start()
        self._sweeper.start()
        self._resumer.start()
        if self.cfg.mqtt.protocol == "auto":
            threading.Thread(target=self._connack_watchdog, name="gateway-connack", daemon=True).start()

    def _connack_watchdog(self, wait: float = 5.0) -> None:
        """A broker that accepts TCP but never answers an MQTT 5 CONNECT (amqtt) is spoken to in 3.1.1.
        One that answered, even with a refusal (a wrong password), speaks MQTT 5: no fallback. A TLS
        handshake gets four times as long."""
        address = contract.parse_broker_url(self.cfg.mqtt.url)
        if address.tls or self.cfg.mqtt.tls:
            wait *= 4
        while not self._stop.is_set() and self.protocol == mqtt.MQTTv5 and not self.connected.wait(wait):
            if self._connack.is_set():
                continue  # it answers MQTT 5: whatever keeps us out is not the protocol
            try:
                socket.create_connection((address.host, address.port), timeout=2).close()
            except OSError:
                continue  # the broker is down, not a protocol problem: paho keeps retrying
            self._fallback()

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    def stop(self) -> None:
        """Say 'stopped' and disconnect (what is not acknowledged yet is redelivered next time)."""
        if self.connected.is_set():
            self.client.publish(self.availability_topic, contract.Availability.STOPPED.value, qos=1, retain=True).wait_for_publish(5)
        self.clips.wait_finished(30)  # a clip being stored is finished, not cut off
        self._stop.set()
        self.client.disconnect()
        self.client.loop_stop()

    def idle(self, quiet: float = 0.5, timeout: float = 60.0) -> bool:
        """Wait until no message is being ingested and none arrived or was processed (nor the connection made)
        for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._in_hand and time.monotonic() - self._last_message > quiet:
                return True
            time.sleep(0.05)
        return False

    # -- MQTT callbacks -----------------------------------------------------
    def _subscription(self, kind: contract.TopicKind) -> str:
        topic = contract.subscription(self.cfg.mqtt.prefix, kind)
        if self.cfg.mqtt.share_group and self.protocol == mqtt.MQTTv5:
            return f"$share/{self.cfg.mqtt.share_group}/{topic}"
        return topic

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connack.set()
        if reason_code.is_failure:
            logger.error("broker refused the connection: %s", reason_code)
            if str(reason_code) == "Unsupported protocol version":
                self._fallback()
            return
        client.subscribe([(self._subscription(k), 1) for k in KINDS])
        if self.cfg.homeassistant.enabled:
            client.subscribe(f"{self.cfg.homeassistant.discovery_prefix}/status", qos=1)
        client.publish(self.availability_topic, contract.Availability.ONLINE.value, qos=1, retain=True)
        self._last_message = time.monotonic()  # what the broker queued meanwhile follows at once: not idle yet
        self.connected.set()
        logger.info("connected (MQTT %s, session present: %s)", "5" if self.protocol == mqtt.MQTTv5 else "3.1.1", flags.session_present)

    def _on_connect_fail(self, client, userdata) -> None:
        logger.warning("cannot reach the broker; retrying with backoff")

    def _fallback(self) -> None:
        """In ``auto`` mode, a broker that refuses MQTT 5 gets 3.1.1 (once, logged and counted) — unless a
        share group would silently become a plain subscription and ``allow_unshared_fallback`` is off."""
        with self._fallback_lock:
            if self.cfg.mqtt.protocol != "auto" or self.protocol != mqtt.MQTTv5:
                return
            if self.cfg.mqtt.share_group and not self.cfg.mqtt.allow_unshared_fallback:
                if not self._fallback_refused:
                    logger.error("broker does not accept MQTT 5: share group %r needs it; not falling back to 3.1.1 "
                                 "(set mqtt.allow_unshared_fallback to ingest everything on every gateway)",
                                 self.cfg.mqtt.share_group)
                self._fallback_refused = True
                return
            logger.warning("broker does not accept MQTT 5; falling back to 3.1.1 (no shared subscriptions, no session expiry)")
            old = self.client
            self.protocol = mqtt.MQTTv311
            self.protocol_fallbacks += 1
            self._connack.clear()
            self.client = self._make_client()
            threading.Thread(target=lambda: (old.loop_stop(), old.disconnect()), daemon=True).start()
            self.client.loop_start()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self._stop.is_set():
            logger.info("disconnected from the broker (stopping)")
        elif self.connected.is_set():
            logger.warning("disconnected: %s", reason_code)
        self.connected.clear()

    def _on_message(self, client, userdata, msg) -> None:
        """Ingest on the network thread (no hand-off), acknowledge after the commit.

        On a store error the message is retried with backoff and not
        acknowledged; if that outlasts the keepalive the broker drops the
        connection and redelivers later from the persistent session.
        """
        self._in_hand += 1  # only paho's network thread calls this: no lock needed
        self._last_message = time.monotonic()
        try:
            self._ingest(client, msg)
        finally:
            self._last_message = time.monotonic()
            self._in_hand -= 1

    def _ingest(self, client: mqtt.Client, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == f"{self.cfg.homeassistant.discovery_prefix}/status":
            if msg.payload == b"online":
                for camera in sorted(self._known_cameras):
                    self._discover(camera)
            client.ack(msg.mid, msg.qos)
            return
        delay = 0.5
        while True:
            try:
                self.ingestor.handle(msg.topic, msg.payload)
                break
            except Exception as exc:  # noqa: BLE001 - store trouble of any kind: keep the message, retry with backoff
                if self._stop.is_set():
                    return  # stopping: not acked, the broker redelivers
                logger.error("store error, will retry: %s", exc)
                time.sleep(delay)
                delay = min(delay * 2, 30)
        client.ack(msg.mid, msg.qos)

    def _on_ingested(self, kind: str, info: dict) -> None:
        camera = info["camera"]
        if kind in ("new", "end"):
            logger.info("stored %s of event %s (camera %s, score %.2f)", kind, info["event_id"], camera, info["score"])
        c = self.cfg.clips
        if kind == "end" and (camera in c.auto_fetch_cameras or set(info["zones"]) & set(c.auto_fetch_zones)):
            self.clips.fetch(camera, info["event_id"])
        if camera not in self._known_cameras:
            self._known_cameras.add(camera)
            if self.cfg.homeassistant.enabled:
                self._discover(camera)
        if kind in ("new", "update", "end") and self.cfg.homeassistant.enabled:
            occupied = kind != "end" or self.store.has_open_event(camera)
            self.client.publish(gateway_topic(self.cfg.mqtt.prefix, camera, "occupancy"),
                                OCCUPIED if occupied else VACANT, qos=1, retain=True)
        if kind == "thumbnail":
            data = self.media.path(self.media.relative_path(info["sha256"])).read_bytes()
            self.client.publish(gateway_topic(self.cfg.mqtt.prefix, camera, "last_thumbnail"), data, qos=0, retain=True)
        elif kind == "stats" and self.cfg.homeassistant.enabled:
            summary = summarise(self.store, self.cfg.report, camera=camera)
            self.client.publish(gateway_topic(self.cfg.mqtt.prefix, camera, "savings"), json.dumps(summary).encode(), qos=0, retain=True)

    def _discover(self, camera: str) -> None:
        for topic, payload in discovery_messages(self.cfg.homeassistant.discovery_prefix, self.cfg.mqtt.prefix, camera):
            self.client.publish(topic, payload, qos=1, retain=True)

    def _request_clip(self, camera: str, req: contract.ClipRequest) -> None:
        self.client.publish(contract.topic(self.cfg.mqtt.prefix, camera, contract.TopicKind.CLIP_REQUEST), req.to_bytes(),
                            qos=contract.QOS_CLIP)

    def _resume_loop(self) -> None:
        while not self._stop.wait(self.cfg.clips.resume_after / 2):
            if self.connected.is_set():
                self.clips.resume()

    def _sweep_loop(self) -> None:
        while not self._stop.wait(self.cfg.retention.sweep_every):
            try:
                sweep(self.store, self.media, self.cfg.retention)
                self._end_events_of_lost_cameras()
            except Exception as exc:  # noqa: BLE001 - a failed sweep must not stop the daemon; the next one retries
                logger.error("retention sweep failed: %s", exc)

    def _end_events_of_lost_cameras(self) -> None:
        """End what cameras gone offline for good left open, and say nobody is in view there."""
        for camera, event_id in self.store.end_events_of_lost_cameras(time.time(), self.cfg.retention.end_offline_events_after):
            logger.warning("camera %s is offline and silent: its open event %s ended at its last news", camera, event_id)
            if self.cfg.homeassistant.enabled and not self.store.has_open_event(camera):
                self.client.publish(gateway_topic(self.cfg.mqtt.prefix, camera, "occupancy"), VACANT, qos=1, retain=True)

    def metrics(self) -> dict:
        c = self.ingestor.counters
        return {"accepted": dict(c.accepted), "rejected": dict(c.rejected), "store_errors": dict(c.store_errors),
                "hook_errors": dict(c.hook_errors), "protocol_fallbacks": self.protocol_fallbacks,
                "clips": {"stored": self.clips.stored, "hash_mismatches": self.clips.hash_mismatches,
                          "duplicate_chunks": self.clips.duplicates},
                "connected": self.connected.is_set()}


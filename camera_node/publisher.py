"""Stage 7 — publisher: MQTT (paho-mqtt 2.x) through the store-and-forward spool.

Messages are spooled to disk first and a worker thread delivers them one at a
time, oldest first, deleting each only after the broker acknowledged it
(QoS 1 PUBACK). A broker outage therefore loses nothing within the spool's
cap, and delivery resumes in order on reconnect. The node speaks MQTT 3.1.1,
which every broker (Mosquitto, EMQX, the embedded amqtt) accepts.
Availability is retained, with an ``offline`` last will.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt

import contract
from camera_node.spool import QueuedMessage, Spool

logger = logging.getLogger(__name__)

#: Malformed config/set and clip/request messages are logged at most once in this many seconds (the rest counted).
REJECTED_LOG_EVERY = 60.0


class Publisher:
    """Publishes the contract's messages for one camera."""

    def __init__(
        self,
        url: str,
        prefix: str,
        camera_id: str,
        spool: Spool,
        keepalive: int = 30,
        password: str | None = None,
        on_config: Callable[[contract.ConfigSetMessage], None] | None = None,
        tls: contract.TlsFiles | None = None,
        on_clip_request: Callable[[contract.ClipRequest], None] | None = None,
    ) -> None:
        """``password`` logs in as the URL's user, else as the camera id (what a per-camera ACL
        expects); ``tls`` (or an ``mqtts://`` URL) encrypts the connection."""
        self.prefix, self.camera_id, self.spool = prefix, camera_id, spool
        self.on_config = on_config
        self.on_clip_request = on_clip_request
        address = contract.parse_broker_url(url)
        self._connected = threading.Event()
        self._wake = threading.Condition()
        self._stopping = False
        self.delivered = 0
        self.rejected = 0  # config/set and clip/request messages that failed validation
        self._rejected_logged: tuple[float, int] | None = None  # when the last was logged, and the count then
        self.delivery_errors = 0  # unexpected errors the delivery worker survived
        # The spooled message handed to paho and not yet acknowledged: a late PUBACK is waited for, never
        # answered with a second copy (duplicates would pile up at the broker).
        self._inflight: tuple[Path, mqtt.MQTTMessageInfo] | None = None
        self.client = contract.new_client(f"smartcam-node-{camera_id}", mqtt.MQTTv311, clean_session=True)
        contract.secure_client(self.client, address, camera_id, password, tls)
        self.client.will_set(self._topic(contract.TopicKind.AVAILABILITY), contract.Availability.OFFLINE.value, qos=contract.QOS_AVAILABILITY, retain=True)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.connect_async(address.host, address.port, keepalive)
        self._worker = threading.Thread(target=self._drain, name=f"publisher-{camera_id}", daemon=True)

    def _topic(self, kind: contract.TopicKind, event_id: str | None = None, chunk: int | None = None) -> str:
        return contract.topic(self.prefix, self.camera_id, kind, event_id, chunk)

    def start(self) -> None:
        """Connect and deliver. Availability left in the queue by the last boot is stale: ``online`` is sent
        on connect, and a ``stopped`` delivered after it would leave the retained state wrong."""
        stale = self.spool.discard_topic(self._topic(contract.TopicKind.AVAILABILITY))
        if stale:
            logger.info("discarded %d availability message(s) queued by the last boot", stale)
        self.client.loop_start()
        self._worker.start()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def publish(self, kind: contract.TopicKind, payload: bytes, qos: int, retain: bool = False, event_id: str | None = None) -> int:
        """Spool a message for delivery; returns the bytes it puts on the wire (topic + payload)."""
        name = self._topic(kind, event_id)
        self.spool.put(QueuedMessage(name, payload, qos, retain))
        with self._wake:
            self._wake.notify()
        return len(name) + len(payload)

    def send_now(self, kind: contract.TopicKind, payload: bytes, event_id: str, chunk: int | None = None,
                 timeout: float = 10.0) -> bool:
        """Publish with QoS 1 past the spool (a clip's manifest and chunks: the clip is on the card already) and
        wait for the PUBACK; False if not connected or not acknowledged in ``timeout`` seconds."""
        if not self.connected:
            return False
        info = self.client.publish(self._topic(kind, event_id, chunk), payload, qos=contract.QOS_CLIP)
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError):
            return False
        return info.is_published()

    def wait_drained(self, timeout: float) -> bool:
        """Block until the spool is empty (or ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while len(self.spool) and time.monotonic() < deadline:
            time.sleep(0.02)
        return not len(self.spool)

    def stop(self, timeout: float = 10.0) -> None:
        """Deliver what is spooled (up to ``timeout``), say 'stopped', disconnect."""
        self.publish(contract.TopicKind.AVAILABILITY, contract.Availability.STOPPED.value.encode(), contract.QOS_AVAILABILITY, retain=True)
        self.wait_drained(timeout)
        self._stopping = True
        self._connected.clear()
        with self._wake:
            self._wake.notify()
        self._worker.join(timeout=5)
        self.client.disconnect()
        self.client.loop_stop()

    # -- paho callbacks (network thread) ---------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            logger.error("broker refused the connection: %s", reason_code)
            return
        client.publish(self._topic(contract.TopicKind.AVAILABILITY), contract.Availability.ONLINE.value, qos=contract.QOS_AVAILABILITY, retain=True)
        client.subscribe([(self._topic(contract.TopicKind.CONFIG_SET), contract.QOS_CONFIG),
                          (self._topic(contract.TopicKind.CLIP_REQUEST), contract.QOS_CLIP)])
        self._connected.set()
        logger.info("connected to broker")
        with self._wake:
            self._wake.notify()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self._connected.is_set():
            logger.warning("disconnected from broker (%s); spooling", reason_code)
        self._connected.clear()

    def _on_message(self, client, userdata, message) -> None:
        clip = message.topic == self._topic(contract.TopicKind.CLIP_REQUEST)
        try:
            msg = (contract.ClipRequest if clip else contract.ConfigSetMessage).from_bytes(message.payload)
        except contract.ContractError as exc:
            self.rejected += 1
            self._log_rejected("clip request" if clip else "config", exc)
            return
        handler = self.on_clip_request if clip else self.on_config
        if handler:
            handler(msg)

    def _log_rejected(self, kind: str, exc: Exception) -> None:
        """Log a malformed message, at most once every :data:`REJECTED_LOG_EVERY` seconds (a flood on the node's own
        topics must not fill its card with log lines), saying how many went unlogged since."""
        now = time.monotonic()
        if self._rejected_logged is not None and now - self._rejected_logged[0] < REJECTED_LOG_EVERY:
            return
        unlogged = self.rejected - 1 - (self._rejected_logged[1] if self._rejected_logged is not None else 0)
        since = f" ({unlogged} more malformed message(s) since the last one logged)" if unlogged else ""
        logger.warning("ignoring %s message: %s%s", kind, str(exc)[:300], since)
        self._rejected_logged = (now, self.rejected)

    # -- delivery worker ---------------------------------------------------
    def _drain(self) -> None:
        """Deliver in order while connected; an unexpected error is logged and delivery goes on."""
        while not self._stopping:
            try:
                self._deliver_next()
            except Exception:
                self.delivery_errors += 1
                logger.exception("delivery failed; retrying")
                time.sleep(1.0)

    def _deliver_next(self) -> None:
        """Publish the oldest spooled message and ack it once the broker has it (or wait for news)."""
        item = self.spool.peek() if self.connected else None
        if item is None:
            with self._wake:
                self._wake.wait(timeout=0.5)
            return
        path, msg = item
        if self._inflight is not None and self._inflight[0] == path:
            info = self._inflight[1]  # still on its way: paho re-sends it itself after a reconnect
        else:
            info = self.client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)
            self._inflight = (path, info) if msg.qos > 0 and info.rc == mqtt.MQTT_ERR_SUCCESS else None
        if msg.qos == 0:
            delivered = info.rc == mqtt.MQTT_ERR_SUCCESS
        else:
            try:
                info.wait_for_publish(timeout=5.0)
            except (RuntimeError, ValueError):
                pass
            delivered = info.is_published()
        if delivered:
            self._inflight = None
            self.spool.ack(path)
            self.delivered += 1
        else:
            time.sleep(0.2)

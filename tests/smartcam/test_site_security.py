"""The site's broker security, proven against a real Mosquitto running configs/mosquitto-secure.conf + mosquitto.acl:
per-camera passwords, an ACL that confines each camera to its own subtree, TLS with the generated CA."""
import shutil
import ssl
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

import contract
from camera_node.publisher import Publisher
from camera_node.spool import Spool
from gateway.config import GatewayConfig
from gateway.daemon import GatewayDaemon
from smartcam.broker_cli import run as broker_run
from smartcam.cli import build_parser
from smartcam.site_security import mosquitto_password_hash, write_credentials, write_pki
from tests.conftest import Mosquitto, free_port
from tests.gateway.test_store_ingest import ev

REPO = Path(__file__).resolve().parents[2]
SITE_DIR = "/etc/mosquitto/smartcam"
CAMERAS = ["cam1", "cam2"]
GATEWAY = "smartcam-gateway"


class SecureBroker(Mosquitto):
    """Mosquitto with the committed secure config, its paths and ports moved into a temp folder."""

    def __init__(self, root: Path) -> None:
        self.site = root / "site"
        self.secrets = write_credentials(self.site, [GATEWAY, *CAMERAS])
        write_pki(self.site, "test", ["localhost", "127.0.0.1"], [GATEWAY, *CAMERAS])
        shutil.copy(REPO / "configs" / "mosquitto.acl", self.site / "acl")
        self.tls_port = free_port()
        super().__init__(root)

    def config(self) -> str:
        conf = (REPO / "configs" / "mosquitto-secure.conf").read_text()
        conf = (conf.replace(SITE_DIR, str(self.site))
                .replace("listener 1883 127.0.0.1", f"listener {self.port} 127.0.0.1")
                .replace("listener 8883", f"listener {self.tls_port} 127.0.0.1")
                .replace("/var/lib/mosquitto/", f"{self.workdir}/"))
        return conf

    def ports(self) -> list[int]:
        return [self.port, self.tls_port]

    def password(self, user: str) -> str:
        return self.secrets[user].read_text().strip()


@pytest.fixture
def secure_broker(tmp_path):
    broker = SecureBroker(tmp_path)
    yield broker
    broker.stop()


def connect(port: int, user: str | None, password: str | None, tls: dict | None = None) -> tuple[mqtt.Client, str]:
    """Connect and return the client and the CONNACK reason ('Success' or why not)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}")
    if user:
        client.username_pw_set(user, password)
    if tls:
        client.tls_set(**tls)
    result: dict = {}
    done = threading.Event()

    def on_connect(c, u, flags, reason_code, props):
        result["reason"] = str(reason_code)
        done.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert done.wait(10), "no CONNACK"
    return client, result["reason"]


class Listener:
    """The gateway's user, subscribed to every camera."""

    def __init__(self, broker: SecureBroker) -> None:
        self.messages: list[str] = []
        self.client, reason = connect(broker.port, GATEWAY, broker.password(GATEWAY))
        assert reason == "Success"
        self.client.on_message = lambda c, u, m: self.messages.append(m.topic)
        self.client.subscribe("smartcam/#", qos=1)
        time.sleep(0.3)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_mosquitto_reads_our_password_hashes():
    # Mosquitto 2's $7$ format: PBKDF2-SHA512, base64 salt and digest.
    salt = bytes(range(12))
    assert mosquitto_password_hash("secret", salt, 101).startswith("$7$101$AAECAwQFBgcICQoL$")
    assert mosquitto_password_hash("secret") != mosquitto_password_hash("secret")  # random salt


def test_anonymous_and_wrong_passwords_are_refused(secure_broker):
    for user, password in [(None, None), ("cam1", "wrong"), ("nobody", "x"), ("cam1", secure_broker.password("cam2"))]:
        client, reason = connect(secure_broker.port, user, password)
        client.loop_stop()
        assert reason != "Success", (user, password)
    client, reason = connect(secure_broker.port, "cam1", secure_broker.password("cam1"))
    client.loop_stop()
    assert reason == "Success"


def test_a_camera_cannot_publish_as_another_camera(secure_broker, tmp_path):
    listener = Listener(secure_broker)
    cam1, reason = connect(secure_broker.port, "cam1", secure_broker.password("cam1"))
    assert reason == "Success"
    for topic in ["smartcam/cam2/events", "smartcam/cam2/thumbnail/x", "smartcam/_gateway/cam2/savings",
                  "smartcam/cam2/config/set", "homeassistant/status", "smartcam/cam1/events"]:
        cam1.publish(topic, ev("new", 0, camera="cam1"), qos=1).wait_for_publish(5)
    # The node's own publisher, configured with cam2's id but cam1's credentials, gets nowhere either.
    spoof = Publisher(f"mqtt://cam1@127.0.0.1:{secure_broker.port}", "smartcam", "cam2", Spool(tmp_path / "q", 1 << 20),
                      password=secure_broker.password("cam1"))
    spoof.start()
    spoof.publish(contract.TopicKind.EVENTS, ev("new", 0, camera="cam2"), contract.QOS_EVENTS)
    assert spoof.wait_drained(10)
    spoof.stop()
    time.sleep(0.5)
    cam1.loop_stop()
    listener.close()
    assert listener.messages == ["smartcam/cam1/events"]


def test_tls_end_to_end_node_to_gateway_store(secure_broker, tmp_path):
    site = secure_broker.site
    cfg = GatewayConfig(
        mqtt={"url": f"mqtts://127.0.0.1:{secure_broker.tls_port}", "client_id": GATEWAY,
              "password_file": str(secure_broker.secrets[GATEWAY]), "tls": {"ca_file": str(site / "ca.crt")}},
        store={"dsn": f"sqlite:///{tmp_path}/gw.db", "media_dir": str(tmp_path / "media")},
        homeassistant={"enabled": True},
    )
    daemon = GatewayDaemon(cfg)
    daemon.start()
    try:
        assert daemon.wait_connected(15)
        # The node logs in as its camera id (no user in the URL) over TLS with the site CA and its client certificate.
        node = Publisher(f"mqtts://127.0.0.1:{secure_broker.tls_port}", "smartcam", "cam1", Spool(tmp_path / "q", 1 << 20),
                         password=secure_broker.password("cam1"),
                         tls=contract.TlsFiles(ca_file=site / "ca.crt", cert_file=site / "cam1.crt", key_file=site / "cam1.key"))
        node.start()
        node.publish(contract.TopicKind.EVENTS, ev("new", 0, camera="cam1", event_id="e1"), contract.QOS_EVENTS)
        node.publish(contract.TopicKind.EVENTS, ev("end", 1, camera="cam1", event_id="e1", end_time=1005.0), contract.QOS_EVENTS)
        assert node.wait_drained(15)
        node.stop()
        assert daemon.idle(quiet=0.5, timeout=20)
        (row,) = daemon.store.events(camera="cam1")
        assert row["event_id"] == "e1" and row["state"] == "ended"
    finally:
        daemon.stop()
    # Without the CA the broker's certificate is not trusted: no connection.
    with pytest.raises(ssl.SSLError):
        connect(secure_broker.tls_port, "cam1", secure_broker.password("cam1"), tls={"ca_certs": None})


def test_the_gateway_rejects_a_payload_whose_camera_is_not_the_topics(tmp_path):
    from gateway.config import LimitsConfig
    from gateway.ingest import Ingestor
    from gateway.media import MediaStore
    from gateway.store import Store

    store = Store(f"sqlite:///{tmp_path}/gw.db")
    ingest = Ingestor(store, MediaStore(tmp_path / "media"), "smartcam", LimitsConfig())
    assert not ingest.handle("smartcam/cam1/events", ev("new", 0, camera="cam2"))
    assert ingest.counters.rejected["ContractError"] == 1
    assert store.events() == []


def test_cli_writes_credentials_and_certificates(tmp_path):
    args = build_parser().parse_args(["broker", "credentials", "--out", str(tmp_path), "--users", "smartcam-gateway", "cam1"])
    assert broker_run(args) == 0
    secret = (tmp_path / "secrets" / "cam1.password").read_text().strip()
    assert len(secret) >= 24 and (tmp_path / "secrets" / "cam1.password").stat().st_mode & 0o777 == 0o600
    assert broker_run(args) == 0  # re-running keeps existing secrets
    assert (tmp_path / "secrets" / "cam1.password").read_text().strip() == secret
    args = build_parser().parse_args(["broker", "certs", "--out", str(tmp_path), "--clients", "cam1"])
    assert broker_run(args) == 0
    assert (tmp_path / "cam1.key").stat().st_mode & 0o777 == 0o600
    bad = build_parser().parse_args(["broker", "credentials", "--out", str(tmp_path), "--users", "a:b"])
    assert broker_run(bad) == 1


def test_no_secret_is_committed_in_configs():
    for path in (REPO / "configs").iterdir():
        text = path.read_text().lower()
        assert "password:" not in text and "token:" not in text and "begin private key" not in text, path


def test_a_refused_password_is_not_taken_for_a_broker_without_mqtt5(secure_broker, tmp_path):
    bad = tmp_path / "wrong-password"
    bad.write_text("not-the-password\n")
    cfg = GatewayConfig(
        mqtt={"url": f"mqtt://127.0.0.1:{secure_broker.port}", "client_id": GATEWAY, "password_file": str(bad)},
        store={"dsn": f"sqlite:///{tmp_path}/gw.db", "media_dir": str(tmp_path / "media")},
    )
    daemon = GatewayDaemon(cfg)
    daemon.start()
    try:
        time.sleep(7.0)  # past the CONNACK watchdog's 5 s
        assert not daemon.connected.is_set()
        assert daemon.metrics()["protocol_fallbacks"] == 0 and daemon.protocol == 5  # still MQTT 5: a login problem
    finally:
        daemon.stop()


def test_a_camera_sends_only_its_own_clip_chunks_and_reads_only_its_own_clip_requests(secure_broker):
    listener = Listener(secure_broker)
    cam1, reason = connect(secure_broker.port, "cam1", secure_broker.password("cam1"))
    assert reason == "Success"
    heard: list[str] = []
    cam1.on_message = lambda c, u, m: heard.append(m.topic)
    cam1.subscribe([("smartcam/cam1/clip/request", 1), ("smartcam/cam2/clip/request", 1)])
    for topic in ["smartcam/cam2/clip/1-cam2/0", "smartcam/cam2/clip/1-cam2/manifest", "smartcam/cam1/clip/request",
                  "smartcam/cam1/clip/1-cam1/0"]:
        cam1.publish(topic, b"x", qos=1).wait_for_publish(5)
    gateway, reason = connect(secure_broker.port, GATEWAY, secure_broker.password(GATEWAY))
    for camera in CAMERAS:  # the gateway asks both cameras; cam1 hears only its own request
        gateway.publish(f"smartcam/{camera}/clip/request", b"{}", qos=1).wait_for_publish(5)
    time.sleep(0.5)
    for client in (cam1, gateway):
        client.loop_stop()
    listener.close()
    assert [t for t in listener.messages if "/clip/" in t and not t.endswith("/request")] == ["smartcam/cam1/clip/1-cam1/0"]
    assert [t for t in listener.messages if t.endswith("/clip/request")] == ["smartcam/cam1/clip/request", "smartcam/cam2/clip/request"]
    assert heard == ["smartcam/cam1/clip/request"]  # its own attempt to write a request was refused too

"""Shared fixtures: paths to ../shared data (skip when absent) and small real media files."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest

from contract import parse_broker_url
from models.config import default_data_root

DATA = default_data_root()
PEERS = DATA.parent / "peers"


def need(path: Path) -> Path:
    """``path``, or skip the test saying which shared data it needs."""
    if not path.exists():
        pytest.skip(f"needs shared data at {path} (set SMARTCAM_DATA)")
    return path


@pytest.fixture
def shared_data() -> Path:
    return need(DATA)


@pytest.fixture
def peers_dir() -> Path:
    return need(PEERS)


def person_scene(rng: np.random.Generator, size=(240, 320), people=2) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A textured grayscale frame with dark upright 'people' (head + body); returns frame and boxes."""
    h, w = size
    frame = cv2.GaussianBlur(rng.integers(90, 170, (h, w), dtype=np.uint8), (7, 7), 0)
    boxes = []
    for _ in range(people):
        bh = int(rng.integers(h // 4, h // 2))
        bw = bh // 3
        x, y = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
        cv2.ellipse(frame, (x + bw // 2, y + bw // 2), (bw // 3, bw // 2), 0, 0, 360, 30, -1)
        cv2.rectangle(frame, (x + bw // 6, y + bw), (x + bw - bw // 6, y + bh), 40, -1)
        boxes.append((x, y, bw, bh))
    return frame, boxes


@pytest.fixture
def yolo_split(tmp_path: Path) -> Path:
    """A small YOLO split of real JPEG files with person boxes."""
    rng = np.random.default_rng(7)
    root = tmp_path / "yolo"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(6):
        frame, boxes = person_scene(rng)
        h, w = frame.shape
        cv2.imwrite(str(root / "images" / f"img{i}.jpg"), frame)
        rows = [f"0 {(x + bw / 2) / w:.6f} {(y + bh / 2) / h:.6f} {bw / w:.6f} {bh / h:.6f}" for x, y, bw, bh in boxes]
        (root / "labels" / f"img{i}.txt").write_text("\n".join(rows) + "\n")
    return root


def write_avi(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    """Write grayscale frames as a real MJPEG AVI."""
    h, w = frames[0].shape
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened()
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


@pytest.fixture
def moving_video(tmp_path: Path) -> Path:
    """A person-free AVI: a bright car-like block drifting over a static background."""
    rng = np.random.default_rng(3)
    base = cv2.GaussianBlur(rng.integers(80, 160, (120, 160), dtype=np.uint8), (5, 5), 0)
    frames = []
    for t in range(24):
        f = base.copy()
        cv2.rectangle(f, (5 + 5 * t, 50), (35 + 5 * t, 70), 230, -1)
        frames.append(f)
    return write_avi(tmp_path / "cars.avi", frames)


# -- MQTT brokers ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def mosquitto_path() -> str | None:
    return shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto",) if os.path.exists(p)), None)


class Mosquitto:
    """A real Mosquitto the test owns: it can be stopped and started again (sessions persist).

    Subclasses give another configuration (:meth:`config`) and the ports it listens on (:meth:`ports`).
    """

    def __init__(self, workdir: Path) -> None:
        binary = mosquitto_path()
        if binary is None:
            pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
        self.binary, self.port, self.workdir = binary, free_port(), workdir
        self.conf = workdir / "mosquitto.conf"
        # started as root, mosquitto drops to its own user, which cannot write the test's persistence
        # (its sessions would silently not survive a restart) nor read 0600 secrets: stay root
        self.conf.write_text(self.config() + ("\nuser root\n" if os.geteuid() == 0 else ""))
        self.log = workdir / "mosquitto.log"
        self.proc: subprocess.Popen | None = None
        self.start()

    def config(self) -> str:
        return (f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                f"persistence_location {self.workdir}/\nautosave_interval 1\n")

    def ports(self) -> list[int]:
        return [self.port]

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not all(reachable("127.0.0.1", port) for port in self.ports()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop it; its sessions and queued messages are saved for the next :meth:`start`."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
            if "Error saving in-memory database" in self.log.read_text():
                raise RuntimeError(f"mosquitto could not save its sessions: {self.log.read_text()[-2000:]}")


@pytest.fixture
def own_broker(tmp_path):
    broker = Mosquitto(tmp_path)
    yield broker
    broker.stop()


@pytest.fixture
def broker_url(tmp_path):
    """$SMARTCAM_TEST_BROKER, else a broker on 127.0.0.1:1883, else a Mosquitto of our own.

    On a shared broker, every retained message the test leaves (availability, Home Assistant discovery,
    occupancy...) is cleared afterwards: strays would show up as cameras in anything else using it."""
    if os.environ.get("SMARTCAM_TEST_BROKER") or reachable("127.0.0.1", 1883):
        url = os.environ.get("SMARTCAM_TEST_BROKER") or "mqtt://127.0.0.1:1883"
        before = retained_topics(url)
        yield url
        clear_retained(url, retained_topics(url) - before)
    else:
        broker = Mosquitto(tmp_path)
        yield broker.url
        broker.stop()


def _client(url: str) -> mqtt.Client:
    address = parse_broker_url(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-retained-{uuid.uuid4().hex[:8]}")
    if address.username:
        client.username_pw_set(address.username, address.password)
    client.connect(address.host, address.port)
    return client


def retained_topics(url: str, quiet: float = 0.3) -> set[str]:
    """Topics holding a retained message on the broker at ``url`` (read until ``quiet`` seconds bring no more)."""
    topics: set[str] = set()
    last = [time.monotonic()]

    def on_message(client, userdata, msg):
        if msg.retain and msg.payload:
            topics.add(msg.topic)
        last[0] = time.monotonic()

    client = _client(url)
    client.on_message = on_message
    client.subscribe("#", qos=0)
    client.loop_start()
    while time.monotonic() - last[0] < quiet:
        time.sleep(0.05)
    client.loop_stop()
    client.disconnect()
    return topics


def clear_retained(url: str, topics: set[str]) -> None:
    """Delete the retained messages on ``topics`` (an empty retained payload)."""
    if not topics:
        return
    client = _client(url)
    client.loop_start()
    for topic in sorted(topics):
        client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()


# -- small real filesystems -----------------------------------------------------
@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A real filesystem of ``size`` (e.g. "64k") mounted at ``path``, to fill up for real (skips without root)."""
    path.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, check=False).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root) to fill a real disk")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)



def read_only(mount: Path) -> None:
    """Remount the filesystem at ``mount`` read-only, as the kernel does with a failing SD card."""
    subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)


def fill(mount: Path) -> None:
    """Take every block left on the filesystem at ``mount`` (something else filled the card)."""
    fd = os.open(mount / "filler.bin", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:  # ENOSPC: full
        pass
    finally:
        os.close(fd)


CHROMIUM = Path(os.environ.get("SMARTCAM_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("SMARTCAM_CHROMEDRIVER", "/usr/bin/chromedriver"))


@pytest.fixture
def browser():
    """Headless Debian Chromium driven by Selenium through the system chromedriver (nothing is downloaded)."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(f"needs Chromium at {CHROMIUM} and chromedriver at {CHROMEDRIVER} (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1600"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()

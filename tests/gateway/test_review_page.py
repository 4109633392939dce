"""The review page in a real browser (headless Debian Chromium): a gateway fed by simulated nodes over Mosquitto.

Log in, see both cameras and their events, filter by camera, open an event, fetch its clip from the node's
SD card, and play it: the video element reports the clip's duration. Screenshots at desktop and phone width."""
import os
import shutil
import time
import uuid

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

import contract
from camera_node.clip_server import ClipServer
from camera_node.publisher import Publisher
from camera_node.spool import Spool
from gateway.api import create_app
from gateway.cli import serve_api
from gateway.daemon import GatewayDaemon
from tests.conftest import free_port
from tests.gateway.test_clips import clip_file
from tests.gateway.test_daemon import gateway_cfg
from tests.gateway.test_store_ingest import ev, jpeg

TOKEN = "review-page-token-0123456789"


@pytest.fixture
def site(tmp_path, broker_url, monkeypatch):
    """A gateway with its page, and two camera nodes (publisher + clip server), each with one event."""
    monkeypatch.setenv("SMARTCAM_API_TOKEN", TOKEN)
    cfg = gateway_cfg(broker_url, f"sqlite:///{tmp_path}/gw.db", tmp_path)
    cfg.api.port = free_port()
    daemon = GatewayDaemon(cfg)
    daemon.start()
    assert daemon.wait_connected(15)
    server = serve_api(cfg, create_app(cfg, daemon.store, daemon.media, daemon.metrics, daemon.clips))
    tag = uuid.uuid4().hex[:6]
    nodes = []
    now = time.time()
    for i, camera in enumerate((f"front{tag}", f"yard{tag}")):
        clips = tmp_path / camera / "clips"
        clips.mkdir(parents=True)
        event_id = f"{int(now * 1000) - i}-{camera}"
        clip_file(clips / f"{event_id}.avi", frames=30)
        pub = Publisher(broker_url, "smartcam", camera, Spool(tmp_path / camera / "queue", 1 << 20))
        clip_server = ClipServer(clips, pub.send_now, rate_bytes_per_s=1 << 20)
        pub.on_clip_request = clip_server.request
        pub.start()
        clip_server.start()
        fields = {"camera": camera, "event_id": event_id, "start_time": now - 60 + i, "zones": ["door"] if i == 0 else []}
        pub.publish(contract.TopicKind.EVENTS, ev("new", 0, **fields), contract.QOS_EVENTS)
        pub.publish(contract.TopicKind.THUMBNAIL, jpeg(60, 90, (40 * i, 90, 160)), contract.QOS_THUMBNAIL, event_id=event_id)
        pub.publish(contract.TopicKind.EVENTS, ev("end", 1, end_time=now - 50 + i, **fields), contract.QOS_EVENTS)
        nodes.append((camera, event_id, pub, clip_server))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and daemon.store.count_events() < 2:
        time.sleep(0.1)
    yield f"http://127.0.0.1:{cfg.api.port}", nodes, daemon
    for _, _, pub, clip_server in nodes:
        clip_server.stop()
        pub.stop(timeout=2)
    server.should_exit = True
    daemon.stop()


def test_log_in_filter_open_an_event_fetch_its_clip_and_play_it(site, browser, tmp_path):
    url, nodes, daemon = site
    (front, front_event, _, _), (yard, _, _, _) = nodes
    wait = WebDriverWait(browser, 30)
    browser.get(url + "/")
    browser.find_element(By.NAME, "token").send_keys(TOKEN)
    browser.find_element(By.TAG_NAME, "form").submit()
    wait.until(lambda b: {front, yard} <= shown(b, "#events .ev") and {front, yard} <= shown(b, "#cameras .cam"))
    assert "online" in browser.execute_script(f"return document.querySelector('#cameras .cam[data-camera=\"{front}\"]').innerText")
    shoot(browser, tmp_path, "review-desktop.png", 1280, 900)

    Select(browser.find_element(By.ID, "f-camera")).select_by_visible_text(yard)
    wait.until(lambda b: shown(b, "#events .ev") == {yard})
    Select(browser.find_element(By.ID, "f-camera")).select_by_visible_text(front)
    wait.until(lambda b: shown(b, "#events .ev") == {front})

    browser.execute_script("document.querySelector('#events .ev').click()")  # the grid re-renders: no stale handle
    wait.until(lambda b: b.find_elements(By.ID, "fetch"))
    assert front_event in browser.find_element(By.ID, "event").text and "door" in browser.find_element(By.ID, "event").text
    browser.find_element(By.ID, "fetch").click()
    video = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#clip video"))[0]
    duration = wait.until(lambda b: b.execute_script("const v = arguments[0]; return v.readyState >= 1 && v.duration;", video))
    assert duration == pytest.approx(3.0, abs=0.2)  # 30 frames at 10 fps, played from the stored MP4
    assert daemon.store.event(front, front_event)["clip_source_sha256"]  # checked against the node's manifest
    assert browser.execute_script("return arguments[0].naturalWidth", browser.find_element(By.CSS_SELECTOR, "#event img.thumb")) > 0
    shoot(browser, tmp_path, "review-phone.png", 390, 844)
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 400  # no sideways scrolling on a phone


def shown(browser, selector) -> set[str]:
    """The cameras of the elements matching ``selector`` now (read in one script: the page re-renders them)."""
    return set(browser.execute_script(f"return [...document.querySelectorAll('{selector}')].map((e) => e.dataset.camera)"))


def shoot(browser, tmp_path, name, width, height):
    browser.set_window_size(width, height)
    time.sleep(0.3)
    browser.save_screenshot(str(tmp_path / name))
    if os.environ.get("SMARTCAM_SCREENSHOTS"):
        shutil.copy(tmp_path / name, os.path.join(os.environ["SMARTCAM_SCREENSHOTS"], name))

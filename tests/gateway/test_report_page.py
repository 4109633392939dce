"""The savings report as a user sees it: opened in headless Chromium."""
import json
import os
import shutil

from gateway.config import LimitsConfig, ReportConfig
from gateway.ingest import Ingestor
from gateway.media import MediaStore
from gateway.report import write_report
from gateway.store import Store
from tests.gateway.test_store_ingest import ev, jpeg, stats


def test_the_report_page_shows_its_plots_and_the_numbers_of_report_json(tmp_path, browser):
    store = Store(f"sqlite:///{tmp_path}/gw.db")
    ingest = Ingestor(store, MediaStore(tmp_path / "media"), "smartcam", LimitsConfig())
    for i, cam in enumerate(("frontdoor", "yard")):
        event_id = f"3600-{cam}"
        assert ingest.handle(f"smartcam/{cam}/events", ev("new", 1, camera=cam, event_id=event_id, start_time=3600.0 + 40 * i))
        assert ingest.handle(f"smartcam/{cam}/thumbnail/{event_id}", jpeg())
        energy = {"average_ma": 150.0, "battery_days": 2.8, "streaming_battery_days": 1.4}
        assert ingest.handle(f"smartcam/{cam}/stats", stats(camera=cam, t=3700.0 + i, cont=2_000_000 * (i + 1), clip=300_000, frames=600,
                                                            clip_seconds=12.0, energy=energy))
    truth = tmp_path / "truth.json"
    node = {"events_caught": 1, "person_intervals": 1, "false_alerts": 0, "frame_recall": 0.99, "median_alert_latency_s": 0.3, "storage_saved": 0.8}
    empty = {"events_caught": 0, "person_intervals": 0, "false_alerts": 0, "frame_recall": None, "median_alert_latency_s": None, "storage_saved": 1.0}
    truth.write_text(json.dumps({"frontdoor": {"recorders": {"node": node, "oracle": node}}, "yard": {"recorders": {"node": empty}}}))
    out = tmp_path / "report"
    doc = write_report(store, out, ReportConfig(), truth=truth)

    browser.get((out / "report.html").as_uri())
    images = browser.find_elements("tag name", "img")
    assert len(images) == len(doc["plots"]) == 4
    for img in images:  # every plot loaded and decoded
        assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 300", img), img.get_attribute("src")
    shown = {k: float(browser.find_element("css selector", f"#{k} b").get_attribute("data-value")) for k in ("wifi", "sd", "server")}
    t = doc["total"]
    assert shown == {"wifi": t["wifi"]["saved_percent"], "sd": t["sd_card"]["saved_percent"], "server": t["server"]["saved_vs_h264_percent"]}
    headline = browser.find_element("css selector", "#sd b").text
    assert headline == f"{t['sd_card']['saved_percent']:.1f}% saved"
    text = browser.find_element("tag name", "body").text
    assert "None" not in text and "n/a (no person in view)" in text  # the person-free camera has no recall to show
    shot = out / "report.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 20_000
    if os.environ.get("SMARTCAM_SCREENSHOTS"):
        shutil.copy(shot, os.path.join(os.environ["SMARTCAM_SCREENSHOTS"], shot.name))

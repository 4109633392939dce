"""The HTTP API: a token for everything by default, filters, bounded pages, thumbnails, metrics, no traversal."""
import logging

import pytest
from fastapi.testclient import TestClient

from gateway.api import create_app
from gateway.config import GatewayConfig, LimitsConfig
from gateway.ingest import Ingestor
from gateway.media import MediaStore
from tests.gateway.test_store_ingest import ev, jpeg, stats
from yamlconfig import ConfigError


@pytest.fixture
def client(store, tmp_path, monkeypatch):
    media = MediaStore(tmp_path / "media")
    ingest = Ingestor(store, media, "smartcam", LimitsConfig())
    for i in range(5):
        ingest.handle("smartcam/cam1/events", ev("new", 0, event_id=f"{i}-cam1", start_time=1000.0 + i))
    ingest.handle("smartcam/cam1/thumbnail/4-cam1", jpeg())
    ingest.handle("smartcam/cam1/stats", stats(cont=10_000, clip=1000))
    monkeypatch.setenv("SMARTCAM_TEST_TOKEN", TOKEN)
    cfg = GatewayConfig(api={"token_env": "SMARTCAM_TEST_TOKEN", "max_page": 3})
    app = create_app(cfg, store, media, lambda: {"accepted": {"events": 5}, "rejected": {"BadImage": 1}, "connected": True})
    return TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})


TOKEN = "s3cret-s3cret-s3cret"


def test_events_are_paginated_within_the_bound(client):
    r = client.get("/api/events", params={"limit": 2, "offset": 1})
    assert r.status_code == 200 and [e["event_id"] for e in r.json()["events"]] == ["3-cam1", "2-cam1"]
    assert client.get("/api/events", params={"limit": 4}).status_code == 422


def test_one_event_and_its_thumbnail(client):
    assert client.get("/api/events/cam1/4-cam1").json()["event_id"] == "4-cam1"
    r = client.get("/api/events/cam1/4-cam1/thumbnail.jpg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content[:2] == b"\xff\xd8"
    assert client.get("/api/events/cam1/3-cam1/thumbnail.jpg").status_code == 404


@pytest.mark.parametrize("path", [
    "/api/events/cam1/..%2F..%2Fetc%2Fpasswd", "/api/events/..%2Fcam1/1-cam1", "/api/events/cam1/.hidden/thumbnail.jpg",
    "/api/events/cam1/nope", "/api/events/cam1/%2e%2e/thumbnail.jpg", "/api/events/cam1/..%5C..%5Cwin.ini/thumbnail.jpg",
    "/api/events/cam1/4-cam1%00.jpg/thumbnail.jpg", "/api/events/cam1/" + "a" * 65 + "/thumbnail.jpg",
    "/api/events?camera=../cam1", "/api/events?offset=100000000", "/api/events?limit=0",
])
def test_no_traversal_and_unknown_ids_are_not_found(client, path):
    assert client.get(path).status_code in (404, 422)


@pytest.mark.parametrize("path", ["/api/events", "/api/events/cam1/4-cam1", "/api/events/cam1/4-cam1/thumbnail.jpg",
                                  "/api/cameras", "/api/savings", "/metrics"])
def test_every_read_needs_the_token(client, path):
    assert client.get(path).status_code == 200
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": TOKEN}):
        r = client.get(path, headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer" and "4-cam1" not in r.text


def test_the_page_sends_a_stranger_to_the_login_and_a_login_sets_a_session_cookie(client):
    stranger = TestClient(client.app, follow_redirects=False)
    assert stranger.get("/").headers["location"] == "/login"
    assert stranger.post("/login", data={"token": "wrong"}).headers["location"] == "/login?failed=true"
    assert "smartcam_session" not in stranger.cookies
    r = stranger.post("/login", data={"token": TOKEN})
    assert r.headers["location"] == "/" and "httponly" in r.headers["set-cookie"].lower()
    assert stranger.cookies["smartcam_session"] != TOKEN  # a value derived from the token, not the token
    assert "99.85% saved" in stranger.get("/").text and stranger.get("/api/events").status_code == 200
    stranger.post("/logout")
    assert stranger.get("/api/events").status_code == 401


def test_a_missing_or_short_token_stops_the_gateway_at_startup(store, tmp_path, monkeypatch):
    media = MediaStore(tmp_path / "media")
    monkeypatch.delenv("SMARTCAM_API_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="SMARTCAM_API_TOKEN"):
        create_app(GatewayConfig(), store, media)  # the default names the variable; unset is an error, not an open API
    with pytest.raises(ConfigError, match="needs a token"):
        create_app(GatewayConfig(api={"token_env": None}), store, media)
    monkeypatch.setenv("SMARTCAM_API_TOKEN", "short")
    with pytest.raises(ConfigError, match="at least 16"):
        create_app(GatewayConfig(), store, media)


def test_open_reads_are_an_explicit_logged_choice_and_never_open_deletes(store, tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("SMARTCAM_API_TOKEN", raising=False)
    with caplog.at_level(logging.WARNING, logger="gateway.auth"):
        client = TestClient(create_app(GatewayConfig(api={"allow_unauthenticated": True}), store, MediaStore(tmp_path / "media")))
    assert "open to anyone" in caplog.text
    assert client.get("/api/events").status_code == 200 and client.get("/").status_code == 200
    assert client.delete("/api/events/cam1/1-cam1", headers={"Authorization": "Bearer anything"}).status_code == 403
    assert client.post("/api/events").status_code == 405


def test_deleting_needs_the_token(client):
    stranger = TestClient(client.app)
    assert stranger.delete("/api/events/cam1/1-cam1").status_code == 401
    assert client.delete("/api/events/cam1/1-cam1").json() == {"deleted": "1-cam1"}
    assert client.get("/api/events/cam1/1-cam1").status_code == 404


def test_cameras_savings_metrics_and_page(client):
    assert client.get("/api/cameras").json()["cameras"][0]["camera_id"] == "cam1"
    savings = client.get("/api/savings").json()
    assert savings["wifi"]["saved_percent"] == pytest.approx(100 * (1 - 15 / 10_000), abs=0.01)
    assert savings["sd_card"]["saved_percent"] == pytest.approx(100 * (1 - 1000 / 10_000), abs=0.01)
    metrics = client.get("/metrics").text
    assert "smartcam_events_total 5" in metrics and 'smartcam_messages_rejected_total{reason="BadImage"} 1' in metrics
    page = client.get("/").text
    assert "Wi-Fi<br><b>99.85% saved" in page and "SD card<br><b>90.0% saved" in page  # the savings read without JavaScript


def test_the_api_docs_are_served_from_the_gateways_own_assets(client):
    page = client.get("/docs").text
    assets = [src for src in ("/static-offline-docs/swagger-ui-bundle.js", "/static-offline-docs/swagger-ui.css") if src in page]
    assert len(assets) == 2 and "cdn." not in page  # nothing fetched from the internet
    for src in assets:
        r = client.get(src)
        assert r.status_code == 200 and len(r.content) > 10_000


def test_a_cameras_last_stats_are_a_json_object_not_a_string(client):
    (camera,) = client.get("/api/cameras").json()["cameras"]
    assert isinstance(camera["last_stats"], dict) and camera["last_stats"]["camera"] == "cam1"


def test_the_savings_report_is_served_behind_the_login_with_its_plots(client):
    stranger = TestClient(client.app, follow_redirects=False)
    assert stranger.get("/report/report.html").headers["location"] == "/login"
    page = client.get("/report/report.html")
    assert page.status_code == 200 and "Storage savings" in page.text and "src='savings.png'" in page.text
    plot = client.get("/report/savings.png")
    assert plot.status_code == 200 and plot.content.startswith(b"\x89PNG")
    assert client.get("/report/..%2Fgw.db").status_code == 404

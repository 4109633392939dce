"""The HTTP API: filters, bounded pages, thumbnails, metrics, no traversal, read-only without a token."""
import pytest
from fastapi.testclient import TestClient

from gateway.api import create_app
from gateway.config import GatewayConfig, LimitsConfig
from gateway.ingest import Ingestor
from gateway.media import MediaStore
from tests.gateway.test_store_ingest import ev, jpeg, stats


@pytest.fixture
def client(store, tmp_path, monkeypatch):
    media = MediaStore(tmp_path / "media")
    ingest = Ingestor(store, media, "smartcam", LimitsConfig())
    for i in range(5):
        ingest.handle("smartcam/cam1/events", ev("new", 0, event_id=f"{i}-cam1", start_time=1000.0 + i))
    ingest.handle("smartcam/cam1/thumbnail/4-cam1", jpeg())
    ingest.handle("smartcam/cam1/stats", stats(cont=10_000, clip=1000))
    monkeypatch.setenv("SMARTCAM_TEST_TOKEN", "s3cret")
    cfg = GatewayConfig(api={"token_env": "SMARTCAM_TEST_TOKEN", "max_page": 3})
    return TestClient(create_app(cfg, store, media, lambda: {"accepted": {"events": 5}, "rejected": {"BadImage": 1}, "connected": True}))


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


def test_without_a_configured_token_nothing_can_be_deleted(store, tmp_path):
    client = TestClient(create_app(GatewayConfig(), store, MediaStore(tmp_path / "media")))
    assert client.delete("/api/events/cam1/1-cam1", headers={"Authorization": "Bearer anything"}).status_code == 403
    assert client.post("/api/events").status_code == 405


def test_read_only_without_the_token(client):
    assert client.delete("/api/events/cam1/1-cam1").status_code == 401
    assert client.delete("/api/events/cam1/1-cam1", headers={"Authorization": "Bearer s3cret"}).json() == {"deleted": "1-cam1"}
    assert client.get("/api/events/cam1/1-cam1").status_code == 404


def test_cameras_savings_metrics_and_page(client):
    assert client.get("/api/cameras").json()["cameras"][0]["camera_id"] == "cam1"
    assert client.get("/api/savings").json()["saved_percent"] == pytest.approx(100 * (1 - 1015 / 10_000), abs=0.01)
    metrics = client.get("/metrics").text
    assert "smartcam_events_total 5" in metrics and 'smartcam_messages_rejected_total{reason="BadImage"} 1' in metrics
    page = client.get("/").text
    assert "storage saved" in page and "/api/events/cam1/4-cam1/thumbnail.jpg" in page

"""Node -> real Mosquitto -> gateway -> store -> API -> report, on SQLite and PostgreSQL."""
import json
import time
import uuid

import pytest
from fastapi.testclient import TestClient

import contract
from camera_node.config import NodeConfig
from camera_node.simulate import simulate
from gateway.api import create_app
from gateway.daemon import GatewayDaemon
from gateway.report import write_report
from tests.camera_node.test_simulate import real_scenario  # noqa: F401  (module-scoped fixture)
from tests.gateway.test_daemon import gateway_cfg


def test_node_events_reach_the_api_and_the_report(real_scenario, broker_url, dsn, tmp_path, monkeypatch):  # noqa: F811
    cfg = gateway_cfg(broker_url, dsn, tmp_path)
    daemon = GatewayDaemon(cfg)
    daemon.start()
    assert daemon.wait_connected(10)
    time.sleep(0.3)
    camera = f"e2e{uuid.uuid4().hex[:6]}"
    report = simulate(NodeConfig(camera_id=camera, mqtt={"stats_every": 10.0}), str(real_scenario / "scenario.avi"),
                      tmp_path / "node", gt=real_scenario / "truth.csv", broker=broker_url, progress=False)
    assert daemon.idle(quiet=1.0, timeout=60)
    records = [json.loads(line) for line in (tmp_path / "node" / "events.jsonl").read_text().splitlines()]
    monkeypatch.setenv("SMARTCAM_API_TOKEN", "end-to-end-token-0123")
    api = TestClient(create_app(cfg, daemon.store, daemon.media, daemon.metrics), headers={"Authorization": "Bearer end-to-end-token-0123"})
    listed = api.get("/api/events", params={"camera": camera, "limit": 200}).json()["events"]
    assert {e["event_id"] for e in listed} == {r["event_id"] for r in records} and len(records) == report["events"] > 0
    for r in records:
        assert api.get(f"/api/events/{camera}/{r['event_id']}/thumbnail.jpg").status_code == 200
        assert api.get(f"/api/events/{camera}/{r['event_id']}").json()["clip_bytes"] == r["clip_bytes"]
    doc = write_report(daemon.store, tmp_path / "report", cfg.report, camera=camera, truth=tmp_path / "node" / "metrics.json")
    node_ledger = report["ledger"]
    assert doc["total"]["continuous_bytes"] == node_ledger["continuous_bytes"]
    assert doc["total"]["clip_bytes"] == node_ledger["clip_bytes"]
    assert doc["total"]["sd_card"]["saved_percent"] == pytest.approx(100 * (1 - node_ledger["clip_bytes"] / node_ledger["continuous_bytes"]), abs=0.01)
    last_stats = len(contract.topic("smartcam", camera, contract.TopicKind.STATS)) + 1200  # at most: it cannot count itself
    assert 0 < node_ledger["sent_bytes"] - doc["total"]["wifi"]["sent_bytes"] <= last_stats
    assert doc["cameras"][camera]["wifi"]["battery_days"] == report["energy"]["battery_days"]
    assert sum(daemon.metrics()["rejected"].values()) == 0
    daemon.stop()

"""``smartcam demo``: the main job end to end on embedded defaults (no broker or database installed).

An embedded broker (mosquitto if on PATH, else amqtt in-process), the
gateway daemon on SQLite, and simulated ESP32-CAM nodes — one per labelled
scenario built from the MOT15 and distractor footage in the data root (a
synthetic person-free clip if the data is absent) — publish over MQTT; the
gateway stores the events and writes the storage-savings report, with each
node's detection quality next to the savings.
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import cv2
import numpy as np

from camera_node.config import NodeConfig
from camera_node.scenario import build_scenario, presence_only_truth
from camera_node.simulate import simulate
from gateway.config import GatewayConfig
from gateway.daemon import GatewayDaemon
from gateway.report import write_report
from smartcam.broker import EmbeddedBroker

logger = logging.getLogger(__name__)


def synthetic_clip(path: Path, seconds: float = 20.0, fps: float = 10.0) -> Path:
    """A person-free street-like clip: static texture, a passing car, a light change."""
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.integers(70, 170, (480, 640, 3), dtype=np.uint8), (9, 9), 0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (640, 480))
    n = int(seconds * fps)
    for i in range(n):
        frame = (base * (1.0 - 0.3 * np.sin(np.pi * i / n) ** 2)).astype(np.uint8)
        x = int(-120 + 900 * i / n)
        cv2.rectangle(frame, (x, 300), (x + 120, 360), (40, 40, 200), -1)
        writer.write(frame)
    writer.release()
    return path


def plan_cameras(data_root: Path, work: Path) -> list[tuple[str, Path, Path]]:
    """(camera id, video, truth) per simulated node."""
    seqs = sorted(p for p in (data_root / "mot15").iterdir() if p.is_dir()) if (data_root / "mot15").is_dir() else []
    distractors = sorted((data_root / "distractors").glob("*.avi")) if (data_root / "distractors").is_dir() else []
    cameras = []
    for i, seq in enumerate(seqs):
        out = work / f"scenario-{seq.name.lower()}"
        build_scenario([seq], distractors[i % len(distractors):][:1] if distractors else [], out, empty_seconds=10.0, seed=i)
        cameras.append((seq.name.lower().replace("tud-", "")[:32], out / "scenario.avi", out / "truth.csv"))
    for path in distractors[-1:]:
        truth = work / f"{path.stem}-truth.csv"
        presence_only_truth(path, truth)
        cameras.append(("street", path, truth))
    if not cameras:
        logger.warning("no MOT15 or distractor data under %s: one node runs on a synthetic person-free clip", data_root)
        work.mkdir(parents=True, exist_ok=True)
        video = synthetic_clip(work / "synthetic.avi")
        presence_only_truth(video, work / "synthetic-truth.csv")
        cameras.append(("synthetic", video, work / "synthetic-truth.csv"))
    return cameras


def _clear_previous_run(out_dir: Path) -> None:
    """Remove the store, node outputs and report an earlier demo run wrote to ``out_dir``."""
    for name in ("gateway", "nodes", "report"):
        shutil.rmtree(out_dir / name, ignore_errors=True)
    (out_dir / "truth.json").unlink(missing_ok=True)


def run_demo(data_root: Path, out_dir: Path, prefer_mosquitto: bool = True) -> dict:
    """Broker + gateway + nodes -> report; returns a summary with the report path.

    Each run starts from an empty store: what an earlier run left in ``out_dir`` is removed first,
    so the totals are this run's."""
    out_dir = Path(out_dir)
    _clear_previous_run(out_dir)
    cameras = plan_cameras(Path(data_root), out_dir / "scenarios")
    with EmbeddedBroker(prefer_mosquitto) as url:
        cfg = GatewayConfig(
            mqtt={"url": url, "client_id": "smartcam-demo-gateway"},
            store={"dsn": f"sqlite:///{out_dir / 'gateway' / 'smartcam.db'}", "media_dir": str(out_dir / "gateway" / "media")},
        )
        daemon = GatewayDaemon(cfg)
        daemon.start()
        if not daemon.wait_connected(20):
            raise RuntimeError(f"the gateway could not connect to the embedded broker at {url}")
        truth = {}
        nodes = {}
        for camera, video, gt in cameras:
            node_cfg = NodeConfig(camera_id=camera, mqtt={"stats_every": 10.0})
            report = simulate(node_cfg, str(video), out_dir / "nodes" / camera, gt=gt, broker=url)
            truth[camera] = report["metrics"]
            nodes[camera] = {"events": report["events"], "mqtt": report.get("mqtt")}
        daemon.idle(quiet=1.0, timeout=60)
        truth_path = out_dir / "truth.json"
        truth_path.write_text(json.dumps(truth, indent=2))
        doc = write_report(daemon.store, out_dir / "report", cfg.report.h264_kbps, truth=truth_path)
        stored_events = len(daemon.store.events(limit=100_000))
        rejected = sum(daemon.metrics()["rejected"].values())
        daemon.stop()
    return {"broker": url, "report": out_dir / "report" / "report.html", "total": doc["total"], "events_stored": stored_events,
            "events_sent": sum(n["events"] for n in nodes.values()), "rejected": rejected, "nodes": nodes, "truth": truth}

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
import time
from pathlib import Path

import cv2
import numpy as np

from camera_node.config import NodeConfig
from camera_node.scenario import build_once, build_scenario, presence_only_truth
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
    """(camera id, video, truth) per simulated node; scenarios are built once per set of inputs (cached in ``work``)."""
    seqs = sorted(p for p in (data_root / "mot15").iterdir() if p.is_dir()) if (data_root / "mot15").is_dir() else []
    distractors = sorted((data_root / "distractors").glob("*.avi")) if (data_root / "distractors").is_dir() else []
    cameras = []
    for i, seq in enumerate(seqs):
        out = work / f"scenario-{seq.name.lower()}"
        clip = distractors[i % len(distractors):][:1] if distractors else []
        hit = build_once(out, [seq, *clip], {"empty_seconds": 10.0, "seed": i},
                     lambda seq=seq, clip=clip, out=out, i=i: build_scenario([seq], clip, out, empty_seconds=10.0, seed=i))
        logger.info("scenario %s: %s (MOT15 %s walkers, empty stretches, an illumination dip, %s)", out.name,
                    "cached" if hit else "built", seq.name, clip[0].name if clip else "no distractor")
        cameras.append((seq.name.lower().replace("tud-", "")[:32], out / "scenario.avi", out / "truth.csv"))
    for path in distractors[-1:]:
        out = work / f"presence-{path.stem}"
        hit = build_once(out, [path], {}, lambda path=path, out=out: presence_only_truth(path, out / "truth.csv"))
        logger.info("scenario street: %s (%s, person-free traffic)", "cached" if hit else "built", path.name)
        cameras.append(("street", path, out / "truth.csv"))
    if not cameras:
        logger.warning("no MOT15 or distractor data under %s: one node runs on a synthetic person-free clip", data_root)
        out = work / "synthetic"
        build_once(out, [], {"synthetic": 1}, lambda: presence_only_truth(synthetic_clip(out / "synthetic.avi"), out / "truth.csv"))
        cameras.append(("synthetic", out / "synthetic.avi", out / "truth.csv"))
    return cameras


def _clear_previous_run(out_dir: Path) -> None:
    """Remove the store, node outputs and report an earlier demo run wrote to ``out_dir`` (scenarios stay: a cache)."""
    for name in ("gateway", "nodes", "report"):
        shutil.rmtree(out_dir / name, ignore_errors=True)
    (out_dir / "truth.json").unlink(missing_ok=True)


def run_demo(data_root: Path, out_dir: Path, prefer_mosquitto: bool = True) -> dict:
    """Broker + gateway + nodes -> report; returns a summary with the report path and each stage's seconds.

    Each run starts from an empty store: what an earlier run left in ``out_dir`` is removed first,
    so the totals are this run's (the scenarios are kept and reused while their inputs are unchanged)."""
    out_dir = Path(out_dir)
    _clear_previous_run(out_dir)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    logger.info("[1/4] scenarios: labelled clips from %s (person presences with ground truth, person-free stretches)", data_root)
    cameras = plan_cameras(Path(data_root), out_dir / "scenarios")
    seconds["scenarios"] = time.perf_counter() - started
    db = out_dir / "gateway" / "smartcam.db"
    with EmbeddedBroker(prefer_mosquitto) as url:
        mark = time.perf_counter()
        logger.info("[2/4] gateway: MQTT daemon on the embedded broker %s, storing to %s", url, db)
        cfg = GatewayConfig(
            mqtt={"url": url, "client_id": "smartcam-demo-gateway"},
            store={"dsn": f"sqlite:///{db}", "media_dir": str(out_dir / "gateway" / "media")},
        )
        daemon = GatewayDaemon(cfg)
        daemon.start()
        try:  # on Ctrl-C / SIGTERM too (the CLI turns SIGTERM into SystemExit): the gateway says 'stopped', the broker stops
            if not daemon.wait_connected(20):
                raise RuntimeError(f"the gateway could not connect to the embedded broker at {url}")
            seconds["broker_and_gateway"] = time.perf_counter() - mark
            mark = time.perf_counter()
            logger.info("[3/4] nodes: %d simulated ESP32-CAM nodes (motion -> int8 person CNN in TFLM -> events, clips on their card, "
                        "alerts and thumbnails over MQTT); two reference recorders score the same frames: motion-only and the oracle",
                        len(cameras))
            truth, nodes = {}, {}
            for camera, video, gt in cameras:
                node_cfg = NodeConfig(camera_id=camera, mqtt={"stats_every": 10.0})
                report = simulate(node_cfg, str(video), out_dir / "nodes" / camera, gt=gt, broker=url)
                truth[camera] = report["metrics"]
                nodes[camera] = {"events": report["events"], "mqtt": report.get("mqtt")}
            daemon.idle(quiet=1.0, timeout=60)
            seconds["nodes"] = time.perf_counter() - mark
            mark = time.perf_counter()
            logger.info("[4/4] report: the three savings from the gateway's store, next to each node's detection quality")
            truth_path = out_dir / "truth.json"
            truth_path.write_text(json.dumps(truth, indent=2))
            doc = write_report(daemon.store, out_dir / "report", cfg.report, truth=truth_path)
            stored_events, rejected = daemon.store.count_events(), sum(daemon.metrics()["rejected"].values())
            seconds["report"] = time.perf_counter() - mark
        finally:
            daemon.stop()
    seconds["total"] = time.perf_counter() - started
    return {"broker": url, "report": out_dir / "report" / "report.html", "store": db, "total": doc["total"],
            "events_stored": stored_events, "events_sent": sum(n["events"] for n in nodes.values()), "rejected": rejected,
            "nodes": nodes, "truth": truth, "seconds": {k: round(v, 2) for k, v in seconds.items()}}

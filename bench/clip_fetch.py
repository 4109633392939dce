"""Fetching a 30 s clip from a node, and what it does to another camera's alerts, in one process.

A node (the real publisher and clip server) holds a 30 s 640x480 MJPEG clip at 10 fps on its card (frames
of a MOT15 sequence from --data, else textured noise); the gateway asks for it and stores it as MP4. Meanwhile
a second camera sends an alert every 0.5 s; its alert-to-stored latency is measured with the transfer running
and without it (the baseline, same broker, same process).

    python bench/clip_fetch.py [--rate 262144] [--broker mqtt://127.0.0.1:1883] [--data ../shared/data]
"""
from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import cv2
import numpy as np

import contract
from camera_node.avi import MjpegAviWriter
from camera_node.clip_server import ClipServer
from camera_node.publisher import Publisher
from camera_node.spool import Spool
from gateway.config import GatewayConfig
from gateway.daemon import GatewayDaemon
from models.config import default_data_root
from smartcam.broker import EmbeddedBroker


def write_clip(path: Path, data_root: Path, seconds: float = 30.0, fps: float = 10.0) -> int:
    """A 640x480 MJPEG AVI as the node writes it; returns its bytes."""
    frames = sorted((data_root / "mot15").glob("*/img1/*.jpg"))
    rng = np.random.default_rng(0)
    writer = MjpegAviWriter(path, 640, 480, fps)
    for i in range(int(seconds * fps)):
        image = (cv2.resize(cv2.imread(str(frames[i % len(frames)])), (640, 480)) if frames
                 else cv2.GaussianBlur(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8), (5, 5), 0))
        writer.write(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes())
    return writer.close()


def alerts(pub: Publisher, daemon: GatewayDaemon, camera: str, stop: threading.Event, tag: str) -> list[float]:
    """One alert every 0.5 s until ``stop``; returns each one's seconds from publish to stored."""
    latencies, i = [], 0
    while not stop.is_set():
        event_id = f"{int(time.time() * 1000)}-{camera}-{tag}{i}"
        sent = time.time()
        pub.publish(contract.TopicKind.EVENTS, contract.EventMessage(type="new", event_id=event_id, camera=camera, seq=0,
                                                                      start_time=sent, score=0.9).to_bytes(), contract.QOS_EVENTS)
        while daemon.store.event(camera, event_id) is None and time.time() - sent < 30:
            time.sleep(0.005)
        latencies.append(time.time() - sent)
        i += 1
        stop.wait(0.5)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=256 * 1024, help="the node's clip pace in bytes/s (default: %(default)s, the node's default)")
    parser.add_argument("--broker", help="broker URL (default: an embedded one)")
    parser.add_argument("--data", type=Path, default=default_data_root(), help="frames for the clip (default: %(default)s)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    work = Path(tempfile.mkdtemp(prefix="bench-clip-"))
    clips = work / "node" / "clips"
    clips.mkdir(parents=True)
    tag = uuid.uuid4().hex[:6]
    camera, other = f"door{tag}", f"yard{tag}"
    event_id = f"{int(time.time() * 1000)}-{camera}"
    size = write_clip(clips / f"{event_id}.avi", args.data)
    broker = EmbeddedBroker() if args.broker is None else None
    url = args.broker or broker.__enter__()
    try:
        cfg = GatewayConfig(mqtt={"url": url, "client_id": f"bench-{tag}"}, store={"dsn": f"sqlite:///{work}/gw.db", "media_dir": str(work / "media")},
                            clips={"parts_dir": str(work / "parts")}, homeassistant={"enabled": False})
        daemon = GatewayDaemon(cfg)
        daemon.start()
        assert daemon.wait_connected(20)
        node = Publisher(url, "smartcam", camera, Spool(work / "q1", 1 << 20))
        server = ClipServer(clips, node.send_now, args.rate)
        node.on_clip_request = server.request
        second = Publisher(url, "smartcam", other, Spool(work / "q2", 1 << 20))
        for p in (node, second):
            p.start()
        server.start()
        time.sleep(1.0)
        node.publish(contract.TopicKind.EVENTS, contract.EventMessage(type="new", event_id=event_id, camera=camera, seq=0,
                                                                       start_time=time.time(), score=0.9).to_bytes(), contract.QOS_EVENTS)
        while daemon.store.event(camera, event_id) is None:
            time.sleep(0.01)
        stop = threading.Event()
        quiet = threading.Thread(target=lambda: results.setdefault("baseline", alerts(second, daemon, other, stop, "b")))
        results: dict[str, list[float]] = {}
        quiet.start()
        time.sleep(10)
        stop.set()
        quiet.join()
        stop = threading.Event()
        busy = threading.Thread(target=lambda: results.setdefault("during", alerts(second, daemon, other, stop, "d")))
        started = time.time()
        busy.start()
        daemon.clips.fetch(camera, event_id)
        while daemon.clips.status(camera, event_id)["state"] != "stored" and time.time() - started < 600:
            time.sleep(0.05)
        took = time.time() - started
        stop.set()
        busy.join()
        stored = daemon.store.thumbnail(daemon.store.event(camera, event_id)["clip_sha"])
        base, during = results["baseline"], results["during"]
        print(f"\n30 s clip, 640x480 MJPEG at 10 fps: {size:,} B on the card, {stored['bytes']:,} B stored as MP4")
        print(f"fetch at {args.rate / 1024:.0f} KiB/s: {took:.1f} s ({size / took / 1024:.0f} KiB/s end to end, "
              f"{server.chunks_sent} chunks of {contract.CLIP_CHUNK_BYTES // 1024} KiB)\n")
        print("| second camera's alerts | n | median s | p95 s | max s | median vs baseline |")
        print("|---|---|---|---|---|---|")
        for name, values in (("baseline (no transfer)", base), ("during the transfer", during)):
            values = sorted(values)
            p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
            print(f"| {name} | {len(values)} | {statistics.median(values):.3f} | {p95:.3f} | {values[-1]:.3f} | "
                  f"{statistics.median(values) / statistics.median(base):.2f}x |")
        server.stop()
        for p in (node, second):
            p.stop(timeout=2)
        daemon.stop()
    finally:
        if broker is not None:
            broker.__exit__(None, None, None)


if __name__ == "__main__":
    main()

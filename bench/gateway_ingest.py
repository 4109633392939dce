"""Gateway ingest rate and alert-to-stored latency with N simulated cameras, as a ratio against a
null subscriber (counts messages, stores nothing) on the same broker in the same process.

Each simulated camera sends events as a node does: ``new`` (JSON), a ~6 KB
thumbnail, ``end`` (JSON), all QoS 1. Latency is from publishing ``new`` to
the row being committed (the store's ``received_at``), or to arrival at the
null subscriber.

    python bench/gateway_ingest.py [--cameras 100] [--rounds 10] [--broker mqtt://127.0.0.1:1883] [--dsn ...]
"""
from __future__ import annotations

import argparse
import io
import json
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
from PIL import Image

import contract
from gateway.config import GatewayConfig
from gateway.daemon import GatewayDaemon
from smartcam.broker import EmbeddedBroker


def thumbnail() -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (120, 80, 3), dtype=np.uint8)).save(buf, "JPEG", quality=70)
    return buf.getvalue()


def connect(url: str, client_id: str, clean: bool = True) -> mqtt.Client:
    host, port = url.split("://")[1].split(":")
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
    client.max_inflight_messages_set(100)
    client.connect(host, int(port))
    client.loop_start()
    return client


def publish_load(url: str, prefix: str, cameras: int, rounds: int, run: str) -> tuple[float, int]:
    """Send ``rounds`` events from every camera; returns (start time, messages)."""
    jpeg = thumbnail()
    clients = [connect(url, f"bench-pub-{run}-{i}") for i in range(10)]
    start = time.time()
    infos = []
    for r in range(rounds):
        for c in range(cameras):
            cam = f"b{run}{c:03d}"
            client = clients[c % len(clients)]
            eid = f"{r}-{cam}"
            now = time.time()
            infos.append(client.publish(f"{prefix}/{cam}/events", contract.EventMessage(type="new", event_id=eid, camera=cam, seq=0, start_time=now, score=0.9).to_bytes(), qos=1))
            infos.append(client.publish(f"{prefix}/{cam}/thumbnail/{eid}", jpeg, qos=1))
            infos.append(client.publish(f"{prefix}/{cam}/events", contract.EventMessage(type="end", event_id=eid, camera=cam, seq=1, start_time=now, end_time=now + 1, score=0.9).to_bytes(), qos=1))
        time.sleep(0.05)
    for info in infos:
        info.wait_for_publish(30)
    for c in clients:
        c.loop_stop()
        c.disconnect()
    return start, len(infos)


def null_subscriber(url: str, prefix: str, cameras: int, rounds: int) -> dict:
    run = uuid.uuid4().hex[:4]
    arrivals: list[float] = []
    latencies: list[float] = []
    done = threading.Event()
    expected = cameras * rounds * 3

    def on_message(client, userdata, msg):
        now = time.time()
        arrivals.append(now)
        if msg.topic.endswith("/events"):
            doc = json.loads(msg.payload)
            if doc["type"] == "new":
                latencies.append(now - doc["start_time"])
        if len(arrivals) >= expected:
            done.set()

    sub = connect(url, f"bench-null-{run}")
    sub.on_message = on_message
    sub.subscribe([(f"{prefix}/+/events", 1), (f"{prefix}/+/thumbnail/+", 1)])
    time.sleep(0.5)
    start, sent = publish_load(url, prefix, cameras, rounds, run)
    done.wait(120)
    sub.loop_stop()
    sub.disconnect()
    return _summary(start, arrivals, latencies, sent, cameras * rounds)


def gateway_run(url: str, prefix: str, cameras: int, rounds: int, dsn: str | None, work: Path) -> dict:
    run = uuid.uuid4().hex[:4]
    cfg = GatewayConfig(
        mqtt={"url": url, "prefix": prefix, "client_id": f"bench-gw-{run}"},
        store={"dsn": dsn or f"sqlite:///{work}/bench.db", "media_dir": str(work / "media")},
        homeassistant={"enabled": False},
    )
    daemon = GatewayDaemon(cfg)
    daemon.start()
    daemon.wait_connected(20)
    time.sleep(0.5)
    start, sent = publish_load(url, prefix, cameras, rounds, run)
    expected_events = cameras * rounds
    deadline = time.time() + 180
    while time.time() < deadline:
        rows = [e for e in daemon.store.events(limit=10**7) if e["camera_id"].startswith(f"b{run}")]
        if len(rows) == expected_events and all(e["state"] == "ended" and e["thumbnail_sha"] for e in rows):
            break
        time.sleep(0.2)
    daemon.idle(quiet=0.3, timeout=30)
    end = max(e["updated_at"] for e in rows)
    latencies = [e["received_at"] - e["start_time"] for e in rows]
    daemon.stop()
    out = _summary(start, [end], latencies, sent, len(rows))
    out["events_stored"] = len(rows)
    return out


def _summary(start: float, arrivals: list[float], latencies: list[float], messages: int, events: int) -> dict:
    seconds = max(arrivals) - start if arrivals else float("nan")
    return {
        "messages": messages,
        "seconds": seconds,
        "messages_per_s": messages / seconds,
        "events_per_s": events / seconds,
        "thumbnails_per_s": events / seconds,
        "p50_ms": 1000 * float(np.percentile(latencies, 50)) if latencies else float("nan"),
        "p99_ms": 1000 * float(np.percentile(latencies, 99)) if latencies else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10, help="events per camera")
    parser.add_argument("--broker", help="mqtt://host:port (default: an embedded broker)")
    parser.add_argument("--dsn", help="gateway store (default: SQLite in a temp folder)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-gw-"))
    prefix = f"bench{uuid.uuid4().hex[:4]}"

    def measure(url: str) -> None:
        null = null_subscriber(url, prefix, args.cameras, args.rounds)
        gw = gateway_run(url, prefix, args.cameras, args.rounds, args.dsn, work)
        print(f"\n{args.cameras} cameras x {args.rounds} events (new + thumbnail + end, QoS 1), broker {url}, store {args.dsn or 'SQLite'}\n")
        print("| subscriber | messages | seconds | events/s | thumbnails/s | p50 ms | p99 ms | rate vs null |")
        print("|---|---|---|---|---|---|---|---|")
        for name, r in (("null subscriber", null), ("gateway", gw)):
            print(f"| {name} | {r['messages']} | {r['seconds']:.2f} | {r['events_per_s']:.0f} | {r['thumbnails_per_s']:.0f} | "
                  f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['events_per_s'] / null['events_per_s']:.2f} |")
        print(f"\ngateway stored {gw['events_stored']} of {args.cameras * args.rounds} events")

    if args.broker:
        measure(args.broker)
    else:
        with EmbeddedBroker() as url:
            measure(url)


if __name__ == "__main__":
    main()

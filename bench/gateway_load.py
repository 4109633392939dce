"""Load test: 1,000 simulated cameras (light MQTT publishers, one connection each) against a broker for a
bounded time, received by (a) a null subscriber that stores nothing (the baseline, same process, same load),
(b) one gateway, (c) two gateways splitting the load with an MQTT 5 shared subscription.

Every camera sends an event every ``--period`` seconds on average (``new`` JSON, a ~6 KB thumbnail,
``end`` JSON; QoS 1). Reported: events sent vs stored (nothing may be lost), lag (how long after the
load stops the last event is stored), p50/p99 alert-to-stored latency (``new`` published -> row
committed), and the gateways' CPU and peak memory per 100 cameras. Gateways are real
``smartcam gateway run`` processes; with two, each one's share comes from its /metrics endpoint.

    python bench/gateway_load.py [--cameras 1000] [--seconds 60] [--period 20] [--dsn postgresql://...]

Default store: the local PostgreSQL if one answers on 127.0.0.1:5432 (two gateways share it), else SQLite.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import secrets
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import astuple
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import psutil
import yaml
from gateway_ingest import thumbnail  # bench/: the same ~6 KB test thumbnail
from tqdm import tqdm

import contract
from gateway.store import Store
from smartcam.broker import EmbeddedBroker

REPO = Path(__file__).resolve().parent.parent


def cameras_process(url: str, prefix: str, run: str, cameras: int, seconds: float, period: float, result: mp.Queue) -> None:
    """Drive ``cameras`` paho clients from one thread with a selector (paho's external-loop API)."""
    host, port = astuple(contract.parse_broker_url(url))[:2]
    jpeg = thumbnail()
    sel = selectors.DefaultSelector()
    clients = []
    for i in range(cameras):
        cam = f"l{run}{i:04d}"
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"load-{cam}")
        client.will_set(f"{prefix}/{cam}/availability", b"offline", qos=1, retain=False)
        client.connect(host, port, keepalive=120)
        sel.register(client.socket(), selectors.EVENT_READ, client)
        clients.append((cam, client))

    def pump(timeout: float) -> None:
        for key, _ in sel.select(timeout):
            key.data.loop_read()
        for _, c in clients:
            if c.want_write():
                c.loop_write()

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not all(c.is_connected() for _, c in clients):
        pump(0.01)
    rng = random.Random(run)
    due = sorted((time.monotonic() + rng.uniform(0, period), k) for k in range(cameras))
    start = time.monotonic()
    sent = 0
    last_misc = start
    seq = [0] * cameras
    while time.monotonic() - start < seconds:
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, k = due.pop(0)
            cam, client = clients[k]
            eid = f"{run}-{cam}-{seq[k]}"
            seq[k] += 1
            t = time.time()
            client.publish(f"{prefix}/{cam}/events", contract.EventMessage(type="new", event_id=eid, camera=cam, seq=0, start_time=t, score=0.9).to_bytes(), qos=1)
            client.publish(f"{prefix}/{cam}/thumbnail/{eid}", jpeg, qos=1)
            client.publish(f"{prefix}/{cam}/events", contract.EventMessage(type="end", event_id=eid, camera=cam, seq=1, start_time=t, end_time=t + 1, score=0.9).to_bytes(), qos=1)
            sent += 1
            due.append((now + rng.expovariate(1 / period), k))
            due.sort()
        if now - last_misc > 1:
            for _, c in clients:
                c.loop_misc()
            last_misc = now
        pump(0.005)
    # Deliver what is in flight (PUBACKs back) before leaving.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(c._out_messages for _, c in clients):
        pump(0.01)
    for _, c in clients:
        c.disconnect()
        c.loop_write()
    result.put({"events": sent, "seconds": seconds, "connected": cameras})


def offer_load(url: str, prefix: str, run: str, args) -> dict:
    queue: mp.Queue = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(target=cameras_process, args=(url, prefix, run, args.cameras, args.seconds, args.period, queue))
    proc.start()
    for _ in tqdm(range(int(args.seconds)), desc=f"load {run}", unit="s", leave=False, mininterval=5):
        time.sleep(1)
    out = queue.get(timeout=180)
    proc.join(30)
    return out


def null_baseline(url: str, prefix: str, args) -> dict:
    run = uuid.uuid4().hex[:3]
    latencies: list[float] = []
    counts = {"events": 0}
    last = [time.time()]

    def on_message(client, userdata, msg):
        last[0] = time.time()
        if msg.topic.endswith("/events"):
            doc = json.loads(msg.payload)
            if doc["type"] == "new":
                latencies.append(last[0] - doc["start_time"])
            else:
                counts["events"] += 1

    host, port = astuple(contract.parse_broker_url(url))[:2]
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"null-{run}", clean_session=False)
    sub.on_message = on_message
    sub.connect(host, port)
    sub.loop_start()
    sub.subscribe([(f"{prefix}/+/events", 1), (f"{prefix}/+/thumbnail/+", 1)])
    time.sleep(1)
    load = offer_load(url, prefix, run, args)
    end_of_load = time.time()
    while time.time() - last[0] < 2:
        time.sleep(0.2)
    sub.loop_stop()
    sub.disconnect()
    return {**_stats(latencies), "sent": load["events"], "stored": counts["events"], "lag_s": max(0.0, last[0] - end_of_load), "cpu_s": 0.0, "rss_mb": 0.0, "split": ""}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gateways_run(url: str, prefix: str, dsn: str, count: int, work: Path, args) -> dict:
    run = uuid.uuid4().hex[:3]
    procs, ports = [], []
    token = secrets.token_urlsafe(24)  # the API wants one, as in a deployment
    for g in range(count):
        port = free_port()
        cfg = {
            "mqtt": {"url": url, "prefix": prefix, "client_id": f"load-gw-{run}-{g}", "share_group": f"load{run}" if count > 1 else None},
            "store": {"dsn": dsn, "media_dir": str(work / "media")},
            "api": {"port": port}, "homeassistant": {"enabled": False}, "retention": {"sweep_every": 3600},
        }
        path = work / f"gw-{run}-{g}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        with open(work / f"gw-{run}-{g}.log", "w") as log:  # the child keeps its own copy of the handle
            procs.append(subprocess.Popen([sys.executable, "-m", "smartcam", "gateway", "run", "--config", str(path)],
                                          stdout=subprocess.DEVNULL, stderr=log, cwd=REPO,
                                          env={**os.environ, "SMARTCAM_API_TOKEN": token}))
        ports.append(port)
    for port in ports:
        _wait_http(port, token)
    time.sleep(1)
    watched = [psutil.Process(p.pid) for p in procs]
    cpu0 = sum(w.cpu_times().user + w.cpu_times().system for w in watched)
    peak = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            peak[0] = max(peak[0], sum(w.memory_info().rss for w in watched) / 2**20)

    threading.Thread(target=sample, daemon=True).start()
    load = offer_load(url, prefix, run, args)
    end_of_load = time.time()
    store = Store(dsn)
    rows: list[dict] = []
    deadline = time.time() + 300
    while time.time() < deadline:
        rows = [r for r in store.events(limit=10**7) if r["camera_id"].startswith(f"l{run}")]
        if len(rows) >= load["events"] and all(r["state"] == "ended" and r["thumbnail_sha"] for r in rows):
            break
        time.sleep(0.5)
    stored_at = max((r["updated_at"] for r in rows), default=end_of_load)
    cpu = sum(w.cpu_times().user + w.cpu_times().system for w in watched) - cpu0
    stop.set()
    shares = [_accepted_events(port, token) for port in ports]
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(20)
    store.close()
    complete = sum(1 for r in rows if r["state"] == "ended" and r["thumbnail_sha"])
    return {**_stats([r["received_at"] - r["start_time"] for r in rows]), "sent": load["events"], "stored": complete,
            "lag_s": max(0.0, stored_at - end_of_load), "cpu_s": cpu, "rss_mb": peak[0], "split": " / ".join(str(s) for s in shares)}


def _metrics(port: int, token: str, timeout: float) -> str:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"})
    return urllib.request.urlopen(request, timeout=timeout).read().decode()


def _wait_http(port: int, token: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _metrics(port, token, 1)
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"gateway API on port {port} did not come up")


def _accepted_events(port: int, token: str) -> int:
    text = _metrics(port, token, 5)
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines() if line.startswith('smartcam_messages_accepted_total{kind="events"}'))


def _stats(latencies: list[float]) -> dict:
    if not latencies:
        return {"p50_ms": float("nan"), "p99_ms": float("nan")}
    return {"p50_ms": 1000 * float(np.percentile(latencies, 50)), "p99_ms": 1000 * float(np.percentile(latencies, 99))}


def default_dsn(work: Path) -> str:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=0.5).close()
        return "postgresql://postgres@127.0.0.1:5432/test"
    except OSError:
        return f"sqlite:///{work}/load.db"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", type=int, default=1000, help="simulated cameras, one MQTT connection each (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=60, help="how long the cameras publish (default: %(default)s)")
    parser.add_argument("--period", type=float, default=20, help="mean seconds between a camera's events (default: %(default)s)")
    parser.add_argument("--dsn", help="gateway store (default: local PostgreSQL if reachable, else SQLite)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    dsn = args.dsn or default_dsn(work)
    prefix = f"load{uuid.uuid4().hex[:4]}"
    broker = EmbeddedBroker()
    if broker.kind != "mosquitto":
        raise SystemExit("needs mosquitto on PATH (shared subscriptions are MQTT 5)")
    with broker as url:
        results = {
            "null subscriber": null_baseline(url, prefix, args),
            "1 gateway": gateways_run(url, prefix, dsn, 1, work, args),
            "2 gateways (shared sub)": gateways_run(url, prefix, dsn, 2, work, args),
        }
    base = results["null subscriber"]
    per100 = args.cameras / 100
    print(f"\n{args.cameras} cameras, one event each per {args.period:.0f} s on average (new + ~6 KB thumbnail + end, QoS 1), "
          f"{args.seconds:.0f} s of load; mosquitto on {url}; store {dsn.split('://')[0]}; {os.cpu_count()} CPU cores shared by all\n")
    print("| receiver | events sent | events stored | lost | lag after load (s) | p50 ms | p99 ms | p99 vs null | CPU %/100 cams | peak RSS MB | event msgs per gateway |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        cpu = 100 * r["cpu_s"] / args.seconds / per100
        print(f"| {name} | {r['sent']} | {r['stored']} | {r['sent'] - r['stored']} | {r['lag_s']:.1f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
              f"{r['p99_ms'] / base['p99_ms']:.1f}x | {cpu:.1f} | {r['rss_mb']:.0f} | {r['split']} |")
    lost = sum(r["sent"] - r["stored"] for r in results.values())
    return 1 if lost else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The storage-savings report: three savings kept apart, the break-even share, projections with their assumptions.

Numbers come from the database: the nodes' ledgers per camera and hour (:mod:`gateway.savings` does the
arithmetic), the event rows and each camera's latest stats (its energy estimate). Output: ``report.html``
with PNG plots (:mod:`gateway.plots`), ``report.json`` and ``ledger.csv``.
"""
from __future__ import annotations

import csv
import html
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import contract
from gateway import plots
from gateway.config import ReportConfig
from gateway.savings import savings_summary
from gateway.store import Store

logger = logging.getLogger(__name__)


def summarise(store: Store, cfg: ReportConfig, since: float | None = None, camera: str | None = None) -> dict:
    """:func:`gateway.savings.savings_summary` of what the store holds (one camera's, or all summed)."""
    events = store.count_events(since, camera)
    energy = (store.last_stats(camera) or {}).get("energy") if camera else None
    return savings_summary(store.ledger(since=since, camera=camera), cfg.h264_kbps, events, cfg.activity_share, energy)


def _energy(store: Store) -> dict[str, dict]:
    """Each camera's energy estimate from its latest stats (cameras whose node sent none are left out)."""
    stats = {c["camera_id"]: json.loads(c["last_stats"]) for c in store.cameras() if c["last_stats"]}
    return {camera: s["energy"] for camera, s in stats.items() if s.get("energy")}


def write_report(store: Store, out_dir: Path, cfg: ReportConfig, since: float | None = None,
                 camera: str | None = None, truth: Path | None = None) -> dict:
    """Write report.html, report.json, ledger.csv and the plots; return the JSON document."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = store.ledger(since=since, camera=camera)
    events = store.events(camera=camera, since=since, limit=10**9)
    cameras = sorted({r["camera_id"] for r in rows} | {e["camera_id"] for e in events})
    energy = _energy(store)
    per_camera = {
        cam: savings_summary([r for r in rows if r["camera_id"] == cam], cfg.h264_kbps,
                             sum(1 for e in events if e["camera_id"] == cam), cfg.activity_share, energy.get(cam))
        for cam in cameras
    }
    detection = _load_truth(truth) if truth else None
    doc = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "since": since,
        "camera": camera,
        "assumptions": {
            "h264_kbps": cfg.h264_kbps,
            "activity_share": cfg.activity_share,
            "server_stores": "thumbnails and event/stats records (clips stay on the node's card unless fetched)",
            "active_minute": "a minute inside an event clip (pre- and post-roll included)",
            "h264_motion": "H.264 written only while the node's motion stage sees motion, no padding",
        },
        "total": savings_summary(rows, cfg.h264_kbps, len(events), cfg.activity_share),
        "events": len(events),
        "cameras": per_camera,
        "detection": detection,
        "plots": plots.write_all(out_dir, per_camera, cfg.h264_kbps, events, detection),
    }
    with open(out_dir / "ledger.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["camera_id", "hour_utc", *contract.LEDGER_FIELDS])
        for r in rows:
            writer.writerow([r["camera_id"], datetime.fromtimestamp(r["hour"], UTC).isoformat(), *(r[k] for k in contract.LEDGER_FIELDS)])
    (out_dir / "report.json").write_text(json.dumps(doc, indent=2))
    (out_dir / "report.html").write_text(_html(doc))
    return doc


def _load_truth(path: Path) -> dict:
    """``{camera: node metrics}`` from a node's metrics.json or a mapping of them."""
    doc = json.loads(Path(path).read_text())
    return {"all": doc} if "recorders" in doc else doc


# -- formatting -----------------------------------------------------------------------------------------

NA = "n/a"


def fmt_bytes(n: float | None) -> str:
    """``1.5 MB`` style (decimal units); n/a for ``None``."""
    if n is None:
        return NA
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.1f} {unit}" if unit != "B" else f"{int(n):,} B"
        n /= 1000
    return f"{n} B"


def fmt_percent(p: float | None) -> str:
    """One decimal; two near 100% (99.97% is not 100.0%, nor is 99.9996%); n/a for ``None``."""
    if p is None:
        return NA
    if 99.99 < p < 100:
        return "> 99.99%"
    return f"{p:.2f}%" if 99 < p < 100 else f"{p:.1f}%"


def fmt_share(s: float | None) -> str:
    """A share as a percentage; above 1 (a break-even never reached) says so; n/a for ``None``."""
    if s is None:
        return NA
    return "never (above 100%)" if s > 1 else f"{100 * s:.1f}%"


def fmt_duration(seconds: float) -> str:
    """Seconds, minutes or hours, whichever reads best."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _savings_rows(doc: dict) -> str:
    out = []
    for cam, c in doc["cameras"].items():
        w, sd, sv = c["wifi"], c["sd_card"], c["server"]
        battery = (f"{w['battery_days']:g} d vs {w['streaming_battery_days']:g} d" if w["battery_days"] is not None else NA)
        out.append(
            f"<tr><td>{html.escape(cam)}</td><td>{fmt_duration(c['seconds'])}</td><td>{c['events']}</td>"
            f"<td>{fmt_bytes(w['sent_bytes'])} vs {fmt_bytes(w['stream_bytes'])}<br><b>{fmt_percent(w['saved_percent'])}</b></td><td>{battery}</td>"
            f"<td>{fmt_bytes(sd['clip_bytes'])} vs {fmt_bytes(sd['continuous_bytes'])}<br><b>{fmt_percent(sd['saved_percent'])}</b></td>"
            f"<td>{fmt_bytes(sv['stored_bytes'])} vs {fmt_bytes(sv['h264_bytes'])}<br><b>{fmt_percent(sv['saved_vs_h264_percent'])}</b></td>"
            f"<td>{fmt_bytes(sv['h264_motion_bytes'])}<br>{fmt_percent(sv['saved_vs_h264_motion_percent'])}</td>"
            f"<td>{fmt_bytes(sv['with_clips_bytes'])}<br>{fmt_percent(sv['with_clips_saved_vs_h264_percent'])}</td>"
            f"<td>{fmt_share(c['rates']['activity_share'])}</td><td>{fmt_share(sv['break_even_share'])}</td></tr>")
    return "".join(out)


def _projection_rows(doc: dict) -> str:
    out = []
    for cam, c in doc["cameras"].items():
        for label, d in (("measured", c["projection_per_day"]["measured"]), ("stated", c["projection_per_day"]["stated"])):
            if d is None:
                out.append(f"<tr><td>{html.escape(cam)}</td><td>{label}</td><td colspan='7'>{NA}: no event clip measured yet</td></tr>")
                continue
            out.append(
                f"<tr><td>{html.escape(cam)}</td><td>{label} {fmt_share(d['activity_share'])}</td><td>{d['events']:g}</td>"
                f"<td>{fmt_bytes(d['sent_bytes'])}</td><td>{fmt_bytes(d['stream_bytes'])}</td><td>{fmt_bytes(d['clip_bytes'])}</td>"
                f"<td>{fmt_bytes(d['server_bytes'])}</td><td>{fmt_bytes(d['server_with_clips_bytes'])}</td><td>{fmt_bytes(d['h264_bytes'])}</td></tr>")
    return "".join(out)


def _detection_section(doc: dict) -> str:
    if not doc.get("detection"):
        return ""
    rows = []
    for cam, metrics in doc["detection"].items():
        for name, m in metrics.get("recorders", {}).items():
            person_free = m["person_intervals"] == 0
            recall = "n/a (no person in view)" if person_free else f"{m['frame_recall']:.3f}"
            latency = NA if m.get("median_alert_latency_s") is None else f"{m['median_alert_latency_s']:.2f}"
            rows.append(f"<tr><td>{html.escape(cam)}</td><td>{html.escape(name)}</td><td>{m['events_caught']}/{m['person_intervals']}</td>"
                        f"<td>{m['false_alerts']}</td><td>{recall}</td><td>{latency}</td><td>{100 * m['storage_saved']:.1f}%</td></tr>")
    return (
        "<h2>Detection quality (ground truth)</h2><p>Savings mean nothing if events were missed. Next to the node, two "
        "<em>reference recorders</em> on the same frames: <b>motion-only</b> (records whenever the motion stage fires) and "
        "<b>oracle</b> (records exactly the true person intervals, with the same pre- and post-roll).</p>"
        "<table><tr><th>camera</th><th>recorder</th><th>person intervals caught</th><th>false alerts</th><th>frame recall</th>"
        f"<th>median alert latency (s)</th><th>SD card saved</th></tr>{''.join(rows)}</table>"
        "<img src='detection.png' alt='detection quality per camera'>")


def _html(doc: dict) -> str:
    t, a = doc["total"], doc["assumptions"]
    w, sd, sv = t["wifi"], t["sd_card"], t["server"]
    images = "".join(f"<img src='{p}' alt='{p[:-4].replace('_', ' ')}'>" for p in doc["plots"] if p != "detection.png")
    span = fmt_duration(t["seconds"])
    return f"""<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>smartcam storage savings</title>
<style>body{{font-family:sans-serif;margin:1.5em;max-width:1100px}}table{{border-collapse:collapse;margin:.5em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right;vertical-align:top}}img{{max-width:100%}}
.kpi{{display:inline-block;border:1px solid #ccc;border-radius:6px;padding:.6em 1em;margin:.3em;min-width:16em}}
.kpi b{{font-size:1.6em}}.note{{color:#555;font-size:.9em}}</style></head><body>
<h1>Storage savings</h1>
<p>{len(doc['cameras'])} camera(s), {span} of camera time measured, {doc['events']} events.</p>
<div class="kpi" id="wifi"><div>Wi-Fi sent by the nodes</div><b data-value="{w['saved_percent']}">{fmt_percent(w['saved_percent'])} saved</b>
<div>{fmt_bytes(w['sent_bytes'])} of alerts, thumbnails and stats instead of streaming {fmt_bytes(w['stream_bytes'])} of MJPEG</div></div>
<div class="kpi" id="sd"><div>Node SD card</div><b data-value="{sd['saved_percent']}">{fmt_percent(sd['saved_percent'])} saved</b>
<div>{fmt_bytes(sd['clip_bytes'])} of event clips instead of {fmt_bytes(sd['continuous_bytes'])} of continuous MJPEG</div></div>
<div class="kpi" id="server"><div>Server storage vs H.264 NVR</div><b data-value="{sv['saved_vs_h264_percent']}">{fmt_percent(sv['saved_vs_h264_percent'])} saved</b>
<div>{fmt_bytes(sv['stored_bytes'])} kept by the gateway instead of {fmt_bytes(sv['h264_bytes'])} of continuous H.264 at {a['h264_kbps']:g} kbit/s
(with every clip fetched: {fmt_bytes(sv['with_clips_bytes'])}, {fmt_percent(sv['with_clips_saved_vs_h264_percent'])})</div></div>
<h2>Per camera</h2>
<p class="note">Each saving against its own baseline. Battery: the node's energy model (datasheet currents x time per state), sending
events vs streaming every frame. Server: the gateway keeps thumbnails and records; "H.264 on motion" is an NVR that records only
while the motion stage fires; "with clips" counts every MJPEG clip fetched to the server. Activity share: time inside event clips.
Break-even: the activity share above which MJPEG event clips cost more than continuous H.264.</p>
<table><tr><th>camera</th><th>measured</th><th>events</th><th>Wi-Fi: sent vs MJPEG stream</th><th>battery: events vs streaming</th>
<th>SD card: clips vs continuous MJPEG</th><th>server vs H.264 continuous</th><th>H.264 on motion</th><th>server with clips</th>
<th>activity share</th><th>break-even share</th></tr>{_savings_rows(doc)}</table>
<h2>Per day, projected</h2>
<p class="note">A camera-day built from the measured rates (bytes per active minute, bytes per minute of messages, events per active
minute) at two activity shares: the one measured here ({span} of data: a short sample is not a day's pattern) and the stated
<code>report.activity_share</code> = {fmt_share(a['activity_share'])}. H.264 at {a['h264_kbps']:g} kbit/s (<code>report.h264_kbps</code>).</p>
<table><tr><th>camera</th><th>activity share</th><th>events</th><th>Wi-Fi sent</th><th>MJPEG stream</th><th>SD clips</th>
<th>server</th><th>server with clips</th><th>H.264 NVR</th></tr>{_projection_rows(doc)}</table>
{_detection_section(doc)}
<h2>Plots</h2>{images}
<p class="note">Generated {doc['generated']}. Data: report.json, ledger.csv.</p></body></html>
"""

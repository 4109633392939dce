"""The storage-savings report: what continuous recording would have cost vs what was stored and sent.

Numbers come from the database: the nodes' ledgers (continuous MJPEG bytes
measured by encoding, clip, thumbnail and message bytes) per camera and hour,
and the event rows. Output: ``report.html`` with PNG plots, ``report.json``
and ``ledger.csv``.
"""
from __future__ import annotations

import csv
import html
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import contract
from gateway.store import Store

logger = logging.getLogger(__name__)

MONTH_SECONDS = 30 * 86400


def savings_summary(rows: list[dict], h264_kbps: float) -> dict:
    """Totals over ledger rows: continuous vs event-triggered bytes, percent saved, monthly projection."""
    tot = contract.Ledger.total(rows)
    event_bytes, continuous, seconds = tot.event_bytes, tot.continuous_bytes, tot.seconds
    h264 = h264_kbps * 1000 / 8 * seconds
    per_month = MONTH_SECONDS / seconds if seconds else 0.0
    return {
        "seconds": round(seconds, 1),
        "frames": int(tot.frames),
        "continuous_bytes": int(continuous),
        "event_bytes": int(event_bytes),
        "clip_bytes": int(tot.clip_bytes),
        "thumbnail_bytes": int(tot.thumbnail_bytes),
        "message_bytes": int(tot.message_bytes),
        "saved_bytes": int(continuous - event_bytes),
        "saved_percent": round(100.0 * tot.saved_fraction, 2),
        "h264_bytes": int(h264),
        "saved_vs_h264_percent": round(100.0 * (1 - event_bytes / h264), 2) if h264 else 0.0,
        "per_month": {
            "continuous_bytes": int(continuous * per_month),
            "event_bytes": int(event_bytes * per_month),
            "h264_bytes": int(h264 * per_month),
        },
    }


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.1f} {unit}" if unit != "B" else f"{int(n):,} B"
        n /= 1000
    return f"{n} B"


def write_report(store: Store, out_dir: Path, h264_kbps: float, since: float | None = None,
                 camera: str | None = None, truth: Path | None = None) -> dict:
    """Write report.html, report.json, ledger.csv and the plots; return the JSON document."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = store.ledger(since=since, camera=camera)
    counts = store.event_counts(since=since, camera=camera)
    cameras = sorted({r["camera_id"] for r in rows} | {c["camera_id"] for c in counts})
    doc = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "since": since,
        "camera": camera,
        "h264_kbps": h264_kbps,
        "total": savings_summary(rows, h264_kbps),
        "events": sum(c["events"] for c in counts),
        "cameras": {
            cam: {**savings_summary([r for r in rows if r["camera_id"] == cam], h264_kbps),
                  "events": sum(c["events"] for c in counts if c["camera_id"] == cam)}
            for cam in cameras
        },
        "detection": _load_truth(truth) if truth else None,
        "plots": ["bytes_over_time.png", "events_per_hour.png"],
    }
    with open(out_dir / "ledger.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["camera_id", "hour_utc", *contract.LEDGER_FIELDS])
        for r in rows:
            writer.writerow([r["camera_id"], datetime.fromtimestamp(r["hour"], UTC).isoformat(), *(r[k] for k in contract.LEDGER_FIELDS)])
    _plot_bytes(rows, cameras, out_dir / "bytes_over_time.png")
    _plot_events(counts, cameras, out_dir / "events_per_hour.png")
    (out_dir / "report.json").write_text(json.dumps(doc, indent=2))
    (out_dir / "report.html").write_text(_html(doc))
    return doc


def _load_truth(path: Path) -> dict:
    """``{camera: node metrics}`` from a node's metrics.json or a mapping of them."""
    doc = json.loads(Path(path).read_text())
    return {"all": doc} if "recorders" in doc else doc


def _plot_bytes(rows: list[dict], cameras: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for cam in cameras:
        mine = [r for r in rows if r["camera_id"] == cam]
        if not mine:
            continue
        # cumulative totals at the end of each hour bucket, starting from zero
        hours = [datetime.fromtimestamp(mine[0]["hour"], UTC)] + [datetime.fromtimestamp(r["hour"] + 3600, UTC) for r in mine]
        cont, ev = 0, 0
        cont_series, ev_series = [0.0], [0.0]
        for r in mine:
            cont += r["continuous_bytes"]
            ev += r["clip_bytes"] + r["thumbnail_bytes"] + r["message_bytes"]
            cont_series.append(cont / 1e6)
            ev_series.append(ev / 1e6)
        line = ax.plot(hours, cont_series, "--", marker=".", label=f"{cam} continuous")[0]
        ax.plot(hours, ev_series, "-", marker="o", color=line.get_color(), label=f"{cam} event-triggered")
    if rows:
        ax.set_xlim(datetime.fromtimestamp(min(r["hour"] for r in rows), UTC),
                    datetime.fromtimestamp(max(r["hour"] for r in rows) + 3600, UTC))
    ax.set(ylabel="cumulative MB", title="Continuous recording vs event-triggered (per camera)")
    ax.legend(fontsize=7)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_events(counts: list[dict], cameras: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.5))
    hours = sorted({c["hour"] for c in counts})
    width = 3000 / max(len(cameras), 1)
    for i, cam in enumerate(cameras):
        per = {c["hour"]: c["events"] for c in counts if c["camera_id"] == cam}
        ax.bar([datetime.fromtimestamp(h + i * width, UTC) for h in hours], [per.get(h, 0) for h in hours],
               width=width / 86400, label=cam, align="edge")
    if hours:
        ax.set_xlim(datetime.fromtimestamp(hours[0], UTC), datetime.fromtimestamp(hours[-1] + 3600, UTC))
    ax.set(ylabel="events", title="Events per hour")
    if cameras:
        ax.legend(fontsize=7)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _html(doc: dict) -> str:
    t = doc["total"]
    rows = "".join(
        f"<tr><td>{html.escape(cam)}</td><td>{c['events']}</td><td>{_fmt_bytes(c['continuous_bytes'])}</td>"
        f"<td>{_fmt_bytes(c['event_bytes'])}</td><td>{c['saved_percent']:.1f}%</td><td>{_fmt_bytes(c['h264_bytes'])}</td></tr>"
        for cam, c in doc["cameras"].items()
    )
    detection = ""
    if doc.get("detection"):
        det_rows = "".join(
            f"<tr><td>{html.escape(cam)}</td><td>{html.escape(name)}</td><td>{m['events_caught']}/{m['person_intervals']}</td>"
            f"<td>{m['false_alerts']}</td><td>{m['frame_recall']}</td><td>{m['median_alert_latency_s']}</td><td>{100 * m['storage_saved']:.1f}%</td></tr>"
            for cam, metrics in doc["detection"].items()
            for name, m in metrics.get("recorders", {}).items()
        )
        detection = (
            "<h2>Detection quality (ground truth)</h2><p>Savings mean nothing if events were missed: the node next to a "
            "motion-only recorder and the oracle that records exactly the true person intervals.</p>"
            "<table><tr><th>camera</th><th>recorder</th><th>person intervals caught</th><th>false alerts</th><th>frame recall</th>"
            f"<th>median alert latency s</th><th>storage saved</th></tr>{det_rows}</table>"
        )
    month = t["per_month"]
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>smartcam storage savings</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:960px}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
.headline{{font-size:1.6em}}</style></head><body>
<h1>Storage savings</h1>
<p class="headline"><b>{_fmt_bytes(t['saved_bytes'])} saved ({t['saved_percent']:.1f}%)</b>: {_fmt_bytes(t['event_bytes'])} stored and sent
instead of {_fmt_bytes(t['continuous_bytes'])} of continuous MJPEG over {t['seconds'] / 3600:.2f} camera-hours, {doc['events']} events.</p>
<p>Projected per month: {_fmt_bytes(month['event_bytes'])} event-triggered vs {_fmt_bytes(month['continuous_bytes'])} continuous MJPEG
vs {_fmt_bytes(month['h264_bytes'])} for an NVR recording H.264 at {doc['h264_kbps']:g} kbit/s per camera
({t['saved_vs_h264_percent']:.1f}% saved against that).</p>
<table><tr><th>camera</th><th>events</th><th>continuous</th><th>event-triggered</th><th>saved</th><th>H.264 NVR</th></tr>{rows}</table>
{detection}
<h2>Over time</h2><img src="bytes_over_time.png" alt="bytes over time"><img src="events_per_hour.png" alt="events per hour">
<p>Generated {doc['generated']}. Data: report.json, ledger.csv.</p></body></html>
"""

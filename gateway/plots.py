"""The report's PNG plots: the three savings per camera, the break-even share, events over time, detection quality.

Each plot is read at a glance: labelled axes with units, a time axis scaled to the data (minutes for a
short run, a date axis for days), and a legend that does not cover the data.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from gateway.savings import MINUTES_PER_DAY, day

logger = logging.getLogger(__name__)

#: Bin widths for the events-over-time plot, in seconds, with their label: the first giving <= 48 bins is used.
TIME_BINS = ((10, "10 s"), (30, "30 s"), (60, "minute"), (300, "5 minutes"), (900, "15 minutes"), (3600, "hour"), (6 * 3600, "6 hours"), (86400, "day"))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _mb(ax) -> None:
    """Log scale with byte units on the y axis."""
    from matplotlib.ticker import FuncFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _si(v)))


def _si(v: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if v < 1000:
            return f"{v:g} {unit}"
        v /= 1000
    return f"{v:g} PB"


def write_all(out_dir: Path, cameras: dict[str, dict], h264_kbps: float, events: list[dict], detection: dict | None) -> list[str]:
    """Write every plot that applies to ``out_dir``; return their file names."""
    names = []
    if cameras:
        savings(cameras, out_dir / "savings.png")
        break_even(cameras, out_dir / "break_even.png")
        names += ["savings.png", "break_even.png"]
    if events:
        events_over_time(events, out_dir / "events_over_time.png")
        names.append("events_over_time.png")
    if detection:
        detection_quality(detection, out_dir / "detection.png")
        names.append("detection.png")
    return names


def savings(cameras: dict[str, dict], path: Path) -> None:
    """Per camera, side-by-side bars: each saving's baseline next to what the event-triggered node spent."""
    plt = _pyplot()
    panels = [
        ("Wi-Fi (node to gateway)", [("MJPEG stream", "wifi", "stream_bytes", "#bbbbbb"), ("sent: alerts, thumbnails, stats", "wifi", "sent_bytes", "#1f77b4")]),
        ("Node SD card", [("continuous MJPEG", "sd_card", "continuous_bytes", "#bbbbbb"), ("event clips", "sd_card", "clip_bytes", "#2ca02c")]),
        ("Server storage", [("H.264 continuous", "server", "h264_bytes", "#bbbbbb"), ("H.264 on motion", "server", "h264_motion_bytes", "#888888"),
                            ("gateway (thumbnails, records)", "server", "stored_bytes", "#ff7f0e"), ("+ every clip fetched", "server", "with_clips_bytes", "#d62728")]),
    ]
    names = list(cameras)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.6))
    x = np.arange(len(names))
    for ax, (title, bars) in zip(axes, panels):
        width = 0.8 / len(bars)
        for i, (label, group, key, color) in enumerate(bars):
            values = [max(cameras[c][group][key], 1) for c in names]  # log axis: 0 B drawn as 1 B
            ax.bar(x + (i - (len(bars) - 1) / 2) * width, values, width, label=label, color=color)
        _mb(ax)
        ax.set_xticks(x, names, rotation=20 if len(names) > 3 else 0)
        ax.set(title=title, ylabel="bytes (log scale; 0 B drawn at 1 B)")
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2 if len(bars) > 2 else 1)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("What each camera spent vs its baseline, over the period measured")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def break_even(cameras: dict[str, dict], path: Path) -> None:
    """Bytes per camera-day vs the share of the day with people in view: event clips vs continuous H.264."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.6))
    shares = np.linspace(0, 1, 101)
    h264 = None
    for cam, c in cameras.items():
        r = c["rates"]
        h264 = r["h264_bytes_per_minute"] * MINUTES_PER_DAY
        if day(r, 0.0) is None:
            continue
        totals = [d["server_with_clips_bytes"] for d in (day(r, s) for s in shares)]
        even = c["server"]["break_even_share"]
        line = ax.plot(100 * shares, np.array(totals) / 1e9,
                       label=f"{cam}: event clips (break-even {100 * even:.0f}%)" if even is not None and even <= 1 else f"{cam}: event clips")[0]
        measured = r["activity_share"]
        ax.plot([100 * measured], [day(r, measured)["server_with_clips_bytes"] / 1e9], "o", color=line.get_color(),
                label=f"{cam}: measured {100 * measured:.0f}%")
    if h264 is not None:
        ax.axhline(h264 / 1e9, color="k", ls="--", label="continuous H.264")
    ax.set(xlabel="share of the day with people in view (%)", ylabel="GB per camera-day", xlim=(0, 100),
           title="Break-even: where event clips cost more than continuous H.264")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def time_bin(span_seconds: float) -> tuple[int, str]:
    """The bin width (seconds, label) for events spread over ``span_seconds``."""
    for width, label in TIME_BINS:
        if span_seconds / width <= 48:
            return width, label
    return TIME_BINS[-1]


def events_over_time(events: list[dict], path: Path) -> None:
    """Events started per time bin, stacked per camera, on a date axis scaled to the data."""
    import matplotlib.dates as mdates

    plt = _pyplot()
    starts = [e["start_time"] for e in events if e.get("start_time") is not None]
    lo, hi = min(starts), max(starts)
    width, label = time_bin(hi - lo)
    first = lo // width * width
    edges = np.arange(first, hi + width + 1, width)
    fig, ax = plt.subplots(figsize=(9, 3.8))
    bottom = np.zeros(len(edges) - 1)
    for cam in sorted({e["camera_id"] for e in events}):
        counts, _ = np.histogram([e["start_time"] for e in events if e["camera_id"] == cam and e.get("start_time") is not None], edges)
        ax.bar([datetime.fromtimestamp(t, UTC) for t in edges[:-1]], counts, width=width / 86400, bottom=bottom,
               align="edge", label=cam, edgecolor="white")
        bottom += counts
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set(ylabel=f"events per {label}", xlabel="time (UTC)", title=f"Events started, per {label}")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def detection_quality(detection: dict, path: Path) -> None:
    """Per camera with ground truth: presences caught and false alerts, the node next to the reference recorders."""
    plt = _pyplot()
    cams = list(detection)
    recorders = sorted({name for m in detection.values() for name in m.get("recorders", {})}, key=lambda n: (n != "node", n))
    fig, (caught_ax, false_ax) = plt.subplots(1, 2, figsize=(11, 4.6))
    x = np.arange(len(cams))
    width = 0.8 / max(len(recorders), 1)
    for i, name in enumerate(recorders):
        rows = [detection[c]["recorders"].get(name) for c in cams]
        share = [100 * r["events_caught"] / r["person_intervals"] if r and r["person_intervals"] else np.nan for r in rows]
        false = [r["false_alerts"] if r else np.nan for r in rows]
        offset = (i - (len(recorders) - 1) / 2) * width
        caught_ax.bar(x + offset, share, width, label=name)
        false_ax.bar(x + offset, false, width, label=name)
    caught_ax.set(title="Person presences caught (no bar: no person in view)", ylabel="% of presences", ylim=(0, 105))
    false_ax.set(title="False alerts (events with no person)", ylabel="events")
    false_ax.yaxis.get_major_locator().set_params(integer=True)
    for ax in (caught_ax, false_ax):
        ax.set_xticks(x, cams)
        ax.grid(axis="y", alpha=0.3)
    false_ax.set_ylim(0, max(1, np.nanmax([r["false_alerts"] for m in detection.values() for r in m["recorders"].values()])) + 0.5)
    fig.legend(*caught_ax.get_legend_handles_labels(), loc="lower center", ncol=len(recorders), fontsize=9,
               title="recorder (motion-only and oracle are references on the same frames)", title_fontsize=8)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)

"""The three savings, each against its honest baseline, and per-day projections from measured rates.

- *Wi-Fi*: what the node sent (thumbnails, alerts, stats) vs streaming its sensor's MJPEG to an NVR,
  with the node's own energy estimate (battery days either way) where its stats carry one.
- *SD card*: the node's event clips vs recording the same MJPEG continuously on the card.
- *Server*: what the gateway keeps (thumbnails and records; plus every clip, if all were fetched) vs a
  server NVR recording H.264 continuously (Frigate-style) and one recording H.264 only while there is motion.

Event clips are MJPEG, several times the bytes of H.264 per minute, so above some share of the day
with people in view they cost more than continuous H.264: the break-even activity share.

Every figure comes from the ledger rows the gateway stored (:class:`contract.Ledger`); projections are
a day built from measured rates at an activity share that is stated next to them, never a bare
extrapolation of the minutes measured.
"""
from __future__ import annotations

import contract

MINUTES_PER_DAY = 1440.0


def percent_saved(spent: float, baseline: float) -> float | None:
    """``100 * (1 - spent / baseline)``, or ``None`` where there is no baseline to save against."""
    return round(100.0 * (1.0 - spent / baseline), 4) if baseline > 0 else None


def h264_bytes_per_minute(h264_kbps: float) -> float:
    """A continuous H.264 recording's bytes per minute at ``h264_kbps``."""
    return h264_kbps * 1000 / 8 * 60


def rates(led: contract.Ledger, events: int, h264_kbps: float) -> dict:
    """Bytes per minute of each kind, measured. An *active* minute is one inside an event clip.

    Thumbnails and alerts are charged to active minutes, messages (stats, alerts) to every minute."""
    minutes, active = led.seconds / 60, led.clip_seconds / 60
    return {
        "minutes": round(minutes, 3),
        "active_minutes": round(active, 3),
        "activity_share": round(active / minutes, 5) if minutes else None,
        "motion_share": round(led.motion_seconds / led.seconds, 5) if led.seconds else None,
        "mjpeg_bytes_per_minute": led.continuous_bytes / minutes if minutes else None,
        "h264_bytes_per_minute": h264_bytes_per_minute(h264_kbps),
        "clip_bytes_per_active_minute": led.clip_bytes / active if active else None,
        "thumbnail_bytes_per_active_minute": led.thumbnail_bytes / active if active else None,
        "message_bytes_per_minute": led.message_bytes / minutes if minutes else None,
        "events_per_hour": round(events / minutes * 60, 3) if minutes else None,
        "events_per_active_minute": events / active if active else None,
    }


def break_even_share(r: dict) -> float | None:
    """Share of the day with people in view above which event clips (with thumbnails and messages) cost
    more bytes than continuous H.264; ``None`` before a clip was measured. Above 1: never."""
    per_active = (r["clip_bytes_per_active_minute"] or 0) + (r["thumbnail_bytes_per_active_minute"] or 0)
    if not per_active or r["message_bytes_per_minute"] is None:
        return None
    return round(max(0.0, (r["h264_bytes_per_minute"] - r["message_bytes_per_minute"]) / per_active), 5)


def day(r: dict, share: float) -> dict | None:
    """One camera-day at activity ``share`` from the measured rates; ``None`` before a clip was measured."""
    if not r["clip_bytes_per_active_minute"] or r["mjpeg_bytes_per_minute"] is None:
        return None
    active = share * MINUTES_PER_DAY
    sent = active * r["thumbnail_bytes_per_active_minute"] + MINUTES_PER_DAY * r["message_bytes_per_minute"]
    clips = active * r["clip_bytes_per_active_minute"]
    mjpeg = MINUTES_PER_DAY * r["mjpeg_bytes_per_minute"]
    return {
        "activity_share": share,
        "events": round(active * r["events_per_active_minute"], 1),
        "sent_bytes": int(sent),
        "stream_bytes": int(mjpeg),
        "clip_bytes": int(clips),
        "server_bytes": int(sent),
        "server_with_clips_bytes": int(sent + clips),
        "h264_bytes": int(MINUTES_PER_DAY * r["h264_bytes_per_minute"]),
    }


def savings_summary(rows: list[dict], h264_kbps: float, events: int = 0, activity_share: float = 0.05,
                    energy: dict | None = None) -> dict:
    """The three savings, rates, break-even share and projections over ledger rows (one camera, or several summed).

    ``energy`` is a camera's :class:`contract.EnergyEstimate` (as a dict) from its latest stats, if any."""
    led = contract.Ledger.total(rows)
    r = rates(led, events, h264_kbps)
    h264 = h264_bytes_per_minute(h264_kbps) / 60 * led.seconds
    h264_motion = h264_bytes_per_minute(h264_kbps) / 60 * led.motion_seconds
    measured = r["activity_share"]
    return {
        **led.summary(),
        "events": events,
        "wifi": {
            "sent_bytes": led.sent_bytes,
            "stream_bytes": led.continuous_bytes,
            "saved_percent": percent_saved(led.sent_bytes, led.continuous_bytes),
            "battery_days": energy["battery_days"] if energy else None,
            "streaming_battery_days": energy["streaming_battery_days"] if energy else None,
        },
        "sd_card": {
            "clip_bytes": led.clip_bytes,
            "continuous_bytes": led.continuous_bytes,
            "saved_percent": percent_saved(led.clip_bytes, led.continuous_bytes),
        },
        "server": {
            "stored_bytes": led.sent_bytes,
            "with_clips_bytes": led.event_bytes,
            "h264_bytes": int(h264),
            "h264_motion_bytes": int(h264_motion),
            "saved_vs_h264_percent": percent_saved(led.sent_bytes, h264),
            "saved_vs_h264_motion_percent": percent_saved(led.sent_bytes, h264_motion),
            "with_clips_saved_vs_h264_percent": percent_saved(led.event_bytes, h264),
            "break_even_share": break_even_share(r),
        },
        "rates": r,
        "projection_per_day": {
            "stated": day(r, activity_share),
            "measured": day(r, measured) if measured is not None else None,
        },
    }

"""ESP32-CAM budgets (flash, SRAM arena, PSRAM, inference rate) and the energy estimate.

Memory is measured (model file, TFLM arena by bisection, JPEG sizes, the
pre-roll ring's peak); time on the MCU is estimated from MACs
(:mod:`models.inference.measure`). The inference rate is *enforced*: the
node never runs the CNN more often than the ESP32 could, nor more invokes in a
row than its frame buffers give it time for, and refuses a model whose flash
or arena does not fit.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

import contract
from camera_node.config import BudgetConfig, EnergyConfig
from models.inference.measure import estimate_latency

logger = logging.getLogger(__name__)


class BudgetError(ValueError):
    """The model does not fit the MCU."""


def check_static_budget(cfg: BudgetConfig, model_bytes: int, arena_bytes: int) -> None:
    """Refuse a model whose flash or measured TFLM arena does not fit the ESP32."""
    if cfg.firmware_bytes + model_bytes > cfg.flash_bytes:
        raise BudgetError(f"model ({model_bytes} B) + firmware ({cfg.firmware_bytes} B) exceed flash ({cfg.flash_bytes} B)")
    if arena_bytes > cfg.sram_bytes - cfg.sram_reserved_bytes:
        raise BudgetError(f"tensor arena {arena_bytes} B exceeds free SRAM {cfg.sram_bytes - cfg.sram_reserved_bytes} B")


class InferenceBudget:
    """CNN time on the ESP32 as a token bucket: ``per_second`` invokes a second, at most ``burst`` in a row.

    The MCU runs invokes back to back between frames; the camera's frame buffers let it fall behind by a frame
    or two, not by a second, so one frame cannot spend a whole second's budget at once (a scene cut with ten
    blobs is classified over the next frames). Work beyond what is available (a cascade's confirmation, which
    costs several invokes' time) is a debt paid back before the next invoke.
    """

    def __init__(self, per_second: float, burst: float) -> None:
        self.per_second = per_second
        self.burst = max(1.0, burst)
        self._tokens = self.burst
        self._at: float | None = None
        self._times: deque[float] = deque()  # spends of the last second, for the peak rate reported
        self.peak = 0
        self.peak_in_a_row = 0  # the most spent at once (one frame's CNN work)

    def _refill(self, ts: float) -> None:
        if self._at is not None and ts > self._at:
            self._tokens = min(self.burst, self._tokens + (ts - self._at) * self.per_second)
        self._at = ts if self._at is None else max(self._at, ts)

    def available(self, ts: float) -> int:
        self._refill(ts)
        return max(0, int(self._tokens + 1e-9))

    def spend(self, ts: float, count: int) -> None:
        self._refill(ts)
        self._tokens -= count
        self.peak_in_a_row = max(self.peak_in_a_row, count)
        while self._times and self._times[0] <= ts - 1.0:
            self._times.popleft()
        self._times.extend([ts] * count)
        self.peak = max(self.peak, len(self._times))


def inference_burst(per_second: float, frame_buffers: int, fps: float) -> float:
    """Invokes the ESP32 may run in a row: the time ``frame_buffers`` frames give it to fall behind (at least one)."""
    return max(1.0, per_second * frame_buffers / fps)


def inferences_per_second(macs: int, motion_ms_per_frame: float, fps: float) -> float:
    """CNN runs per second left once motion has had its share of each second on the ESP32."""
    free_ms = max(0.0, 1000.0 - motion_ms_per_frame * fps)
    return max(1.0, free_ms / estimate_latency(macs).esp32_ms)


@dataclass
class Usage:
    """What the run used, measured."""

    model_bytes: int
    arena_bytes: int
    macs: int
    max_jpeg_bytes: int
    peak_ring_bytes: int
    person_frame_bytes: int
    motion_model_bytes: int
    seconds: float
    frames: int  # frames the motion stage ran on
    inferences: int
    peak_inferences_per_second: int
    sent_bytes: int
    sd_bytes: int
    stream_bytes: int = 0  # what streaming every frame (continuous MJPEG) would have sent instead
    peak_inferences_in_a_row: int = 0  # the most CNN work of one frame, in invokes


def budget_report(cfg: BudgetConfig, usage: Usage, per_second: float, burst: float) -> dict:
    """Each budget with its limit, the measured value and whether it holds (``burst``: invokes in a row)."""
    sram_free = cfg.sram_bytes - cfg.sram_reserved_bytes
    psram = cfg.frame_buffers * usage.max_jpeg_bytes + usage.peak_ring_bytes + usage.person_frame_bytes + usage.motion_model_bytes
    items = {
        "flash_bytes": (cfg.firmware_bytes + usage.model_bytes, cfg.flash_bytes),
        "arena_bytes": (usage.arena_bytes, sram_free),
        "psram_bytes": (psram, cfg.psram_bytes),
        "inferences_per_second": (usage.peak_inferences_per_second, per_second),
        "inferences_in_a_row": (usage.peak_inferences_in_a_row, burst),
    }
    return {k: {"value": v, "limit": round(lim, 2), "ok": v <= lim} for k, (v, lim) in items.items()}


def energy_report(cfg: EnergyConfig, usage: Usage, motion_ms: float) -> dict:
    """Average current from time spent per state; battery life for ``battery_mah``."""
    seconds = max(usage.seconds, 1e-9)
    inference_s = usage.inferences * estimate_latency(usage.macs).esp32_ms / 1000
    motion_s = usage.frames * motion_ms / 1000
    wifi_s = usage.sent_bytes * 8 / (cfg.wifi_mbps * 1e6)
    sd_s = usage.sd_bytes * 8 / (cfg.sd_mbps * 1e6)
    share = {k: min(1.0, v / seconds) for k, v in {"motion": motion_s, "inference": inference_s, "wifi": wifi_s, "sd_write": sd_s}.items()}
    avg_ma = (
        cfg.idle_ma
        + cfg.camera_ma
        + cfg.compute_ma * min(1.0, share["motion"] + share["inference"])
        + cfg.wifi_tx_ma * share["wifi"]
        + cfg.sd_write_ma * share["sd_write"]
    )
    # The same camera streaming every frame instead: sensor and JPEG on, the radio sending the MJPEG, no CNN, no SD.
    stream_ma = cfg.idle_ma + cfg.camera_ma + cfg.wifi_tx_ma * min(1.0, usage.stream_bytes * 8 / (cfg.wifi_mbps * 1e6) / seconds)
    return {
        "time_share": {k: round(v, 5) for k, v in share.items()},
        "average_ma": round(avg_ma, 2),
        "average_mw": round(avg_ma * cfg.voltage, 1),
        "battery_mah": cfg.battery_mah,
        "battery_days": round(cfg.battery_mah / avg_ma / 24, 2),
        "streaming_average_ma": round(stream_ma, 2),
        "streaming_battery_days": round(cfg.battery_mah / stream_ma / 24, 2),
        "sources": "ESP32 datasheet (modem-sleep, Wi-Fi TX), OV2640 datasheet, SD physical layer spec; configurable in energy:",
    }


def energy_estimate(report: dict) -> contract.EnergyEstimate:
    """The part of :func:`energy_report` the node sends in its stats."""
    return contract.EnergyEstimate(average_ma=report["average_ma"], battery_days=report["battery_days"],
                                   streaming_battery_days=report["streaming_battery_days"])

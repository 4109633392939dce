"""ESP32 budgets and the energy estimate."""
import pytest

from camera_node.budget import (
    BudgetError,
    InferenceBudget,
    Usage,
    budget_report,
    check_static_budget,
    energy_report,
    inference_burst,
    inferences_per_second,
)
from camera_node.config import BudgetConfig, EnergyConfig
from models.inference.measure import CALIBRATION


def usage(**kw):
    base = {
        "model_bytes": 75_000, "arena_bytes": 36_000, "macs": CALIBRATION["macs"], "max_jpeg_bytes": 40_000,
        "peak_ring_bytes": 600_000, "person_frame_bytes": 76_800, "motion_model_bytes": 38_400, "seconds": 3600.0,
        "frames": 25_200, "inferences": 0, "peak_inferences_per_second": 2, "sent_bytes": 0, "sd_bytes": 0,
    }
    return Usage(**{**base, **kw})


def test_the_inference_rate_is_capped_per_second():
    b = InferenceBudget(3.0, burst=3.0)
    assert b.available(0.0) == 3
    b.spend(0.0, 3)
    assert b.available(0.2) == 0 and b.available(1.01) == 3 and b.peak == 3


def test_a_frame_cannot_spend_the_whole_seconds_budget_at_once():
    # ~10 invokes a second, but a 100 ms frame holds one invoke of 88 ms: two frame buffers of slack allow two in a
    # row, the rest come one per frame as the time they took is paid back (the ESP32 runs invokes back to back)
    b = InferenceBudget(10.0, burst=2.0)
    assert b.available(0.0) == 2
    b.spend(0.0, 2)
    assert b.available(0.1) == 1
    b.spend(0.1, 1)
    assert b.available(0.2) == 1 and b.available(1.0) == 2


def test_work_beyond_the_burst_is_a_debt_paid_back_in_time():
    b = InferenceBudget(10.0, burst=2.0)
    b.spend(0.0, 5)  # a cascade's confirmation costs several invokes' time
    assert b.available(0.2) == 0 and b.available(0.4) == 1 and b.peak == 5


def test_the_burst_is_what_the_frame_buffers_let_the_mcu_fall_behind():
    assert inference_burst(10.5, frame_buffers=2, fps=10.0) == pytest.approx(2.1)
    assert inference_burst(6.7, frame_buffers=2, fps=10.0) == pytest.approx(1.34)
    assert inference_burst(2.0, frame_buffers=1, fps=30.0) == 1.0  # never under one invoke


def test_inference_rate_follows_the_calibrated_latency():
    # person_detect-sized model: 380 ms on the ESP32 -> ~2.6 invokes/s with no motion cost
    assert inferences_per_second(CALIBRATION["macs"], 0.0, 7.0) == pytest.approx(1000 / 380, rel=1e-3)
    assert inferences_per_second(CALIBRATION["macs"] // 4, 10.0, 10.0) == pytest.approx(900 / 95, rel=1e-3)


def test_budget_report_flags_what_does_not_fit():
    report = budget_report(BudgetConfig(), usage(peak_ring_bytes=5_000_000), per_second=2.6, burst=1.0)
    assert report["psram_bytes"]["ok"] is False and report["flash_bytes"]["ok"] and report["arena_bytes"]["ok"]


def test_static_budget_refuses_oversized_models():
    with pytest.raises(BudgetError, match="flash"):
        check_static_budget(BudgetConfig(), 3_500_000, 10_000)
    check_static_budget(BudgetConfig(), 75_000, 36_000)


def test_idle_node_draws_idle_plus_camera_and_battery_days_follow():
    cfg = EnergyConfig(idle_ma=40, camera_ma=40, battery_mah=9600)
    e = energy_report(cfg, usage(frames=0), motion_ms=0.0)
    assert e["average_ma"] == pytest.approx(80.0) and e["battery_days"] == pytest.approx(5.0)


def test_inference_and_radio_time_raise_the_draw():
    cfg = EnergyConfig()
    quiet = energy_report(cfg, usage(), motion_ms=8.0)
    busy = energy_report(cfg, usage(inferences=5000, sent_bytes=50_000_000), motion_ms=8.0)
    assert busy["average_ma"] > quiet["average_ma"] and busy["time_share"]["inference"] > 0


def test_streaming_every_frame_costs_more_battery_than_sending_only_events():
    cfg = EnergyConfig()
    e = energy_report(cfg, usage(sent_bytes=200_000, stream_bytes=300_000_000), motion_ms=8.0)
    assert e["streaming_average_ma"] > e["average_ma"]
    assert e["streaming_battery_days"] < e["battery_days"]

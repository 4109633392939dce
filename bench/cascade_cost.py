"""What confirming before alerting costs the node on person-free video, as ratios against one stage.

Runs the node (real TFLM kernels) on each person-free video twice in the same
process: the shipped model alone (baseline), then the cascade (the model
screening at its recorded screen_threshold, --confirm judging what passes).
Prints per video: events, screen invokes and confirmations per analysed
frame, and the ESP32-S3 CNN time per frame (MAC-based estimate), with the
cascade's cost as a multiple of the baseline's.

    python bench/cascade_cost.py [--confirm ../shared/peers/mlperf_tiny_vww_96_int8.tflite]
                                 [--model runs/ship/person_detector.tflite] [--data ../shared/data]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from camera_node.config import NodeConfig
from camera_node.simulate import simulate
from models import SHIPPED_MODEL
from models.config import default_data_root
from models.inference.measure import count_macs, estimate_latency


def s3_ms_per_frame(report: dict, screen_macs: int, confirm_macs: int) -> float:
    """ESP32-S3 CNN milliseconds per analysed frame: screen invokes plus confirmations."""
    ms = report["inferences"] * estimate_latency(screen_macs).esp32s3_ms
    ms += report["confirmations"] * estimate_latency(confirm_macs).esp32s3_ms
    return ms / max(report["analysed_frames"], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=default_data_root())
    parser.add_argument("--model", type=Path, default=SHIPPED_MODEL, help="screening model (default: the shipped one)")
    parser.add_argument("--confirm", type=Path, help="confirmation model (default: DATA/../peers/mlperf_tiny_vww_96_int8.tflite)")
    args = parser.parse_args()
    confirm = args.confirm or args.data.parent / "peers" / "mlperf_tiny_vww_96_int8.tflite"
    videos = sorted((args.data / "distractors").glob("*.avi"))
    if not videos or not confirm.exists():
        raise SystemExit(f"needs person-free videos in {args.data / 'distractors'} and {confirm}")
    screen_macs, confirm_macs = count_macs(args.model.read_bytes()), count_macs(confirm.read_bytes())
    work = Path(tempfile.mkdtemp(prefix="bench-cascade-"))
    print("| video | detector | events | invokes / frame | confirmations / frame | S3 CNN ms / frame | x one stage |")
    print("|---|---|---|---|---|---|---|")
    for video in videos:
        base = None
        for name, detector in (("one stage", {"model": args.model}), ("cascade", {"model": args.model, "confirm_model": confirm})):
            report = simulate(NodeConfig(detector=detector), str(video), work / f"{video.stem}-{name}", progress=False)
            ms = s3_ms_per_frame(report, screen_macs, confirm_macs)
            base = base or ms
            frames = max(report["analysed_frames"], 1)
            print(f"| {video.name} | {name} | {report['events']} | {report['inferences'] / frames:.3f} | "
                  f"{report['confirmations'] / frames:.3f} | {ms:.2f} | {ms / base:.2f} |")


if __name__ == "__main__":
    main()

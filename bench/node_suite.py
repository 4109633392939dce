"""The unseen-camera suite (camera_node/suite.py) as one table: every scenario, the node's decisions.

Builds the scenarios from ../shared once (cached under --work), runs the node
with --config (default: the built-in defaults) on each and prints one markdown
line per scenario (events vs presences, frame recall, false alerts, alert
latency, savings vs the oracle, CNN share of person-free frames) and the goals
it misses. Tuned scenarios first, then the held-out ones.

    python bench/node_suite.py [--config configs/node.yaml] [--work runs/suite] [--only still-tud-campus ...] [--fps 7 --work runs/suite-7fps]
    python bench/node_suite.py --mirror --work runs/suite-mirror    # every scenario mirrored left-right
    python bench/node_suite.py --sensor-width 800 --work runs/suite-svga    # the node's sensor at SVGA (QVGA: 320)
    python bench/node_suite.py --look dusk --work runs/suite-dusk    # every scene as a camera at dusk sees it (or night)

A candidate model goes through the same suite with ``--model runs/X/person_detector.tflite`` (its
threshold read beside it, its ESP32 invoke rate from its MACs), so a model is judged by what the node
does with it, not by its crop figures alone.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from camera_node.config import SensorConfig, load_node_config
from camera_node.scenario import LOOKS
from camera_node.suite import FPS, SUITE, run_suite, suite_table
from models.config import default_data_root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, help="node YAML (default: built-in defaults)")
    parser.add_argument("--data", type=Path, default=default_data_root(), help="data root (default: %(default)s)")
    parser.add_argument("--work", type=Path, default=Path("runs/suite"), help="scenario cache and runs (default: %(default)s)")
    parser.add_argument("--only", nargs="+", choices=[s.name for s in SUITE], help="run only these scenarios")
    parser.add_argument("--model", type=Path, help="override the detector model (.tflite; its training.json beside it)")
    parser.add_argument("--backend", choices=["tflm", "litert"], help="override the detector backend")
    parser.add_argument("--fps", type=float, default=FPS, help="frame rate the scenarios are built at (default: %(default)s; "
                        "use another --work per rate)")
    parser.add_argument("--mirror", action="store_true", help="build every scenario mirrored left-right (a camera facing "
                        "the other way; use another --work)")
    parser.add_argument("--sensor-width", type=int, help="the node's sensor width (VGA 640, SVGA 800, QVGA 320; the height "
                        "follows each scenario's shape): the same scenes from a camera at another resolution (use another --work)")
    parser.add_argument("--look", choices=sorted(LOOKS), default="day", help="how every scenario's camera renders it (the "
                        "night scenarios stay at night): day, dusk or night (default: %(default)s; use another --work)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not (args.data / "mot15").is_dir():
        print(f"error: no MOT15 sequences under {args.data} (set --data or SMARTCAM_DATA)", file=sys.stderr)
        return 1
    cfg = load_node_config(args.config)
    if args.model:
        if not args.model.is_file():
            print(f"error: no model at {args.model}", file=sys.stderr)
            return 1
        cfg.detector.model = args.model
    if args.backend:
        cfg.detector.backend = args.backend
    if args.sensor_width:
        try:
            cfg.sensor = SensorConfig.model_validate({**cfg.sensor.model_dump(), "width": args.sensor_width})
        except ValidationError as exc:
            print(f"error: --sensor-width {args.sensor_width}: {exc.errors()[0]['msg']}", file=sys.stderr)
            return 1
    rows = run_suite(cfg, args.data, args.work, args.only, args.fps, args.mirror, args.look)
    args.work.mkdir(parents=True, exist_ok=True)
    (args.work / "suite.json").write_text(json.dumps(rows, indent=2))
    print(suite_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``smartcam node ...``: simulate, scenario, run."""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path

from camera_node.config import ConfigError, load_node_config
from camera_node.scenario import LOOKS
from camera_node.source import SourceError

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``node`` command group."""
    node = sub.add_parser("node", help="run or simulate a camera node; build labelled scenarios")
    cmds = node.add_subparsers(dest="node_command", required=True, metavar="COMMAND")

    p = cmds.add_parser("simulate", help="run the node on a video as fast as possible; score it with --gt")
    p.add_argument("--source", required=True, help="video file, image folder, camera index or URL")
    p.add_argument("--out", type=Path, default=Path("runs/simulate"), help="output folder (default: %(default)s)")
    p.add_argument("--config", type=Path, help="node YAML (default: built-in ESP32-CAM defaults)")
    p.add_argument("--broker", help="mqtt://host:port to publish to (default: no broker)")
    p.add_argument("--gt", type=Path, help="ground truth: MOT gt.txt or CSV frame,present")
    p.add_argument("--backend", choices=["tflm", "litert"], help="override the detector backend")
    p.add_argument("--max-frames", type=int, help="stop after this many frames")
    p.add_argument("--dump-crops", type=Path, metavar="DIR",
                   help="write the CNN's crops of person-free frames (all frames without --gt) as a labelled folder "
                        "for `smartcam model train --folder` / site adaptation")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--serve-clips", type=float, default=0.0, metavar="SECONDS",
                   help="with --broker: once the source ends, keep answering clip requests until SECONDS pass without one")
    p.add_argument("--allow-truncated", action="store_true",
                   help="accept a file that ends before the frames it states (default: warn and exit 1)")
    p.set_defaults(func=_simulate)

    p = cmds.add_parser("run", help="run the node live on a camera or stream (Ctrl-C to stop)")
    p.add_argument("--source", help="camera index or URL (default: the config's source.uri)")
    p.add_argument("--out", type=Path, default=Path("runs/node"), help="clips, thumbnails, queue (default: %(default)s)")
    p.add_argument("--config", type=Path, help="node YAML")
    p.add_argument("--broker", help="mqtt://host:port (default: the config's mqtt.url)")
    p.set_defaults(func=_run)

    p = cmds.add_parser("scenario", help="build a labelled event scenario from MOT sequences and distractor videos")
    p.add_argument("--mot", type=Path, nargs="+", required=True, help="MOT sequence folders")
    p.add_argument("--distractors", type=Path, nargs="*", default=[], help="person-free videos to insert")
    p.add_argument("--out", type=Path, default=Path("runs/scenario"), help="output folder (default: %(default)s)")
    p.add_argument("--fps", type=float, help="output frame rate (default: the sequence's)")
    p.add_argument("--size", help="output WxH, e.g. 768x576 (default: the sequence's)")
    p.add_argument("--empty-seconds", type=float, default=12.0, help="length of empty stretches (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--still", type=float, default=0.0, metavar="SECONDS",
                   help="per sequence, add a walker who stays still this long (noise, flicker, sway), then walks on")
    p.add_argument("--far", type=float, metavar="SCALE",
                   help="per sequence, add the walkers scaled by SCALE at the far side (e.g. 0.2: 25-60 px tall in 640x480)")
    p.add_argument("--parked", type=float, default=0.0, metavar="SECONDS",
                   help="hold each distractor clip half-way this long (what is on the road is parked)")
    p.add_argument("--look", choices=sorted(LOOKS), default="day",
                   help="how the camera renders the scene: day; dusk (three fifths of the contrast, 1.75x the sensor noise, "
                        "as at dusk or in a dim room); or night (a third of the contrast on a lifted black level, 2.5x the "
                        "sensor noise, as an IR or high-gain camera at night) (default: %(default)s)")
    p.set_defaults(func=_scenario)


def _simulate(args: argparse.Namespace) -> int:
    from camera_node.simulate import simulate

    cfg = load_node_config(args.config)
    if args.backend:
        cfg.detector.backend = args.backend
    report = simulate(cfg, args.source, args.out, args.gt, args.broker, progress=not args.no_progress,
                      max_frames=args.max_frames, dump_crops=args.dump_crops, allow_truncated=args.allow_truncated,
                      serve_clips=args.serve_clips)
    led = report["ledger"]
    print(f"{report['frames']} frames, {report['events']} events, CNN on {report['cnn_frame_share']:.1%} of frames; "
          f"storage saved {led['saved_fraction']:.2%} of {led['continuous_bytes']:,} B")
    if "metrics" in report:
        print((args.out / "metrics.md").read_text())
    if "dumped_crops" in report:
        print(f"{report['dumped_crops']} person-free crops written to {args.dump_crops}")
    print(f"output: {args.out}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from camera_node.node import Node, run_source
    from camera_node.simulate import make_publisher
    from camera_node.source import FrameSource

    cfg = load_node_config(args.config)
    uri = args.source or cfg.source.uri
    if not uri:
        raise ConfigError("no source: give --source or source.uri in the config")
    source = FrameSource(uri, fps=cfg.source.fps, realtime=True, reconnect_delay=cfg.source.reconnect_delay)
    # A service stop ends the open event cleanly; one while the node is still starting up runs no frame at all.
    signal.signal(signal.SIGTERM, lambda *_: source.stop())
    publisher = make_publisher(cfg, args.out, args.broker)
    try:
        node = Node(cfg, args.out, source.fps, publisher)
        if publisher is not None:
            publisher.on_config = node.request_config
        try:
            run_source(node, source, progress=True)
        except KeyboardInterrupt:
            node.finish()
    finally:
        if publisher is not None:
            publisher.stop()
    print(json.dumps(node.report()["ledger"]))
    return 0


def _scenario(args: argparse.Namespace) -> int:
    from camera_node.scenario import build_scenario

    size = None
    if args.size:
        try:
            w, h = (int(v) for v in args.size.lower().split("x"))
            size = (w, h)
        except ValueError:
            raise ConfigError(f"--size must look like 768x576, got {args.size!r}") from None
    doc = build_scenario(args.mot, args.distractors, args.out, args.fps, size, args.empty_seconds, args.seed,
                         still_seconds=args.still, far_scale=args.far, parked_seconds=args.parked,
                         look=LOOKS[args.look])
    print(f"{doc['frames']} frames ({doc['person_frames']} with a person) at {doc['fps']:g} fps -> {args.out / doc['video']}, {args.out / doc['truth']}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run a parsed ``node`` command; errors become a message and exit status 1."""
    try:
        return args.func(args)
    except (ConfigError, SourceError, ValueError, OSError) as exc:  # BudgetError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 1

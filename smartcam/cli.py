"""``smartcam GROUP COMMAND ...`` — one entry point for every part of the product."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from camera_node import cli as node_cli
from gateway import cli as gateway_cli
from models import cli as model_cli
from models.config import default_data_root
from smartcam import broker_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smartcam", description="Smart-camera event-triggered recorder.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="group", required=True, metavar="GROUP")
    model_cli.register(sub)
    node_cli.register(sub)
    gateway_cli.register(sub)
    broker_cli.register(sub)
    demo = sub.add_parser("demo", help="the main job end to end on embedded defaults")
    demo.add_argument("--data", type=Path, default=default_data_root(), help="data root (default: %(default)s)")
    demo.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder (default: %(default)s)")
    return parser


def _demo(args: argparse.Namespace) -> int:
    from smartcam.demo import run_demo

    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # unwind like Ctrl-C: the gateway and the broker are stopped
    try:
        summary = run_demo(args.data, args.out)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: gateway and broker stopped", file=sys.stderr)
        return 130
    t = summary["total"]
    print(f"\nbroker {summary['broker']}; events sent by the nodes {summary['events_sent']}, stored by the gateway {summary['events_stored']}")
    for camera, metrics in summary["truth"].items():
        n, ref = metrics["recorders"]["node"], metrics["recorders"]
        caught = (f"caught {n['events_caught']}/{n['person_intervals']} person presences" if n["person_intervals"]
                  else "no person in view")
        print(f"  {camera}: {caught}, {n['false_alerts']} false alerts; SD card saved {100 * n['storage_saved']:.1f}% "
              f"(reference recorders: oracle {100 * ref['oracle']['storage_saved']:.1f}%, "
              f"motion-only {100 * ref['motion-only']['storage_saved']:.1f}%)")
    print(gateway_cli.headline(t))
    print("done in " + ", ".join(f"{k.replace('_', ' ')} {v:.0f} s" for k, v in summary["seconds"].items()))
    print(f"open the report: {summary['report']}")
    print(f"next: smartcam gateway report --dsn sqlite:///{summary['store']} --out runs/report   (the same store, again)\n"
          f"      smartcam broker run & smartcam gateway run --config configs/gateway.local.yaml   (a local broker, and a gateway with its page)")
    return 0


def _exit_on_sigterm(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    runner = {"model": model_cli.run, "node": node_cli.run, "gateway": gateway_cli.run, "broker": broker_cli.run, "demo": _demo}[args.group]
    return runner(args)

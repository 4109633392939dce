"""`smartcam demo` end to end, first run vs a cached second run, in one process.

The first run builds the scenarios from --data (the cache in --out is emptied first: what a fresh clone
pays after install); the second finds them cached. Prints each stage's seconds and the second run as a
ratio of the first. Goals (issue 14): first <= 90 s, cached <= 30 s on 2 cores.

    python bench/demo_time.py [--data ../shared/data] [--out runs/bench-demo]
"""
from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

from models.config import default_data_root
from smartcam.demo import run_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=default_data_root(), help="data root (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-demo"), help="demo output and scenario cache (default: %(default)s)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    shutil.rmtree(args.out / "scenarios", ignore_errors=True)
    runs = {"first run": run_demo(args.data, args.out)["seconds"], "cached run": run_demo(args.data, args.out)["seconds"]}
    stages = list(runs["first run"])
    print(f"\n| run | {' | '.join(stages)} | vs first run |")
    print("|---" * (len(stages) + 2) + "|")
    first = runs["first run"]["total"]
    for name, seconds in runs.items():
        print(f"| {name} | {' | '.join(f'{seconds[s]:.1f} s' for s in stages)} | {seconds['total'] / first:.2f}x |")


if __name__ == "__main__":
    main()

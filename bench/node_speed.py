"""Node host speed, as ratios against decoding alone in the same process, on one core.

Builds a 768x576, 7 fps scenario from ../shared (MOT15 + distractors) unless
--video is given, then times: decoding the video only (baseline), the full
node with the TFLM interpreter (the MCU's kernels) and with LiteRT. Also
reports on which share of a person-free scene's frames the CNN ran.

    python bench/node_speed.py [--video V --fps 7] [--data ../shared/data]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from camera_node.config import NodeConfig
from camera_node.evaluation import load_presence
from camera_node.node import Node
from camera_node.scenario import build_scenario
from camera_node.source import FrameSource
from models.config import default_data_root


def time_decode(video: str) -> tuple[int, float]:
    start = time.perf_counter()
    n = sum(1 for _ in FrameSource(video))
    return n, time.perf_counter() - start


def time_node(video: str, backend: str, out: Path, truth: Path | None = None) -> tuple[int, float, dict]:
    source = FrameSource(video)
    first = next(iter(FrameSource(video))).image
    cfg = NodeConfig(detector={"backend": backend}).shaped_like(first.shape[1], first.shape[0])  # a node set up for this camera
    node = Node(cfg, out, source.fps, trace=True)
    start = time.perf_counter()
    for frame in source:
        node.process(frame)
    node.finish()
    info = {"cnn_frames": node.cnn_frames, "frames": node.frames, "events": node.event_count}
    if truth is not None:  # the CNN's share of the frames without a person
        empty = ~load_presence(truth, len(node.trace.cnn))
        info["cnn_person_free"] = float(np.asarray(node.trace.cnn)[empty].mean())
    return node.frames, time.perf_counter() - start, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", help="video to time (default: a 768x576 7 fps scenario built from --data)")
    parser.add_argument("--data", type=Path, default=default_data_root())
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    cv2.setNumThreads(1)
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    video = args.video
    truth = None
    distractors = sorted((args.data / "distractors").glob("*.avi"))
    if video is None:
        seqs = sorted(p for p in (args.data / "mot15").iterdir() if p.is_dir())
        build_scenario(seqs, distractors, work / "scenario", fps=7.0, size=(768, 576), empty_seconds=20.0)
        video = str(work / "scenario" / "scenario.avi")
        truth = work / "scenario" / "truth.csv"
    fps = FrameSource(video).fps
    n, base = time_decode(video)
    rows = [("decode only (baseline)", n, base, {})]
    for backend in ("tflm", "litert"):
        frames, seconds, info = time_node(video, backend, work / f"node-{backend}", truth)
        rows.append((f"node, {backend}", frames, seconds, info))
    print(f"\nvideo: {video} ({n} frames, {fps:g} fps, one core)\n")
    print("| run | frames | seconds | frames/s | x real time | time vs decode only | CNN on frames | CNN on person-free frames |")
    print("|---|---|---|---|---|---|---|---|")
    for name, frames, seconds, info in rows:
        share = f"{info['cnn_frames'] / info['frames']:.1%}" if info else "-"
        free = f"{info['cnn_person_free']:.1%}" if "cnn_person_free" in info else "-"
        print(f"| {name} | {frames} | {seconds:.2f} | {frames / seconds:.0f} | {frames / seconds / fps:.1f} | {seconds / base:.2f}x | {share} | {free} |")
    print("\nperson-free scenes (distractors alone), TFLM:\n")
    print("| video | frames | CNN on frames | events (all false alerts) | x real time |")
    print("|---|---|---|---|---|")
    for path in distractors:
        frames, seconds, info = time_node(str(path), "tflm", work / f"free-{path.stem}")
        src_fps = FrameSource(str(path)).fps
        print(f"| {path.name} | {frames} | {info['cnn_frames'] / frames:.1%} | {info['events']} | {frames / seconds / src_fps:.1f} |")


if __name__ == "__main__":
    main()

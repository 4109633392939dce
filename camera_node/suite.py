"""The unseen-camera suite: labelled scenarios built from ../shared, run through the node, one table.

Each scenario stands for a case the node meets on cameras it has never seen:

* ``walk-*``: people walk through (a MOT15 sequence), with empty stretches,
  an illumination dip and a traffic clip in between;
* ``still-*``: a person walks in and stays still for tens of seconds
  (sensor noise, flicker, sub-pixel sway), then walks on;
* ``far-*``: the same walkers scaled down at the far side of the scene;
* ``traffic-*``: a person-free traffic video as it is;
* ``parked-*``: the same video stopping half-way for 30 s (parked cars);
* ``night-*``: the walk scenario as a camera at night sees it (dark, flat,
  noisy: :data:`camera_node.scenario.NIGHT`).

Each scenario runs on a node configured for its camera: the sensor at the configured width, in the
scenario's shape (:meth:`NodeConfig.shaped_like`; the 16:9 traffic-overhead camera was squashed into 4:3 frames
until stop 23, which made its cars a third taller and cost the CNN 8.9% of its frames instead of 12.1%).

Every scenario can also be built mirrored (``bench/node_suite.py --mirror``): the same scenes from a camera
facing the other way, where people walk and cars leave the other way. Stop 24 ran it for the first time; it
found defects the unmirrored suite had hidden (a sitter lost, walkers split in two events, a night ghost, false
alerts), each traced on a mirrored scenario and fixed, so the mirrored table is not held out either.

Every scenario can be seen at dusk or at night as well (``bench/node_suite.py --look dusk``, :func:`camera_look`):
the same scenes from a camera with less contrast and more noise. Stop 30 added these views and ran them once, untouched.

Honesty: the node was tuned on the TUD-Campus and traffic_overhead
scenarios only; the TUD-Stadtmitte and traffic_suburban ones are marked
``held out`` and report what the rules do on footage they were not tuned on
(though later rules were found by tracing some of them: see the README). The
``night-*`` scenarios were added untouched, after the rules, and are not to be
tuned on.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
from tqdm import tqdm

from camera_node.config import NodeConfig
from camera_node.scenario import (
    LOOKS,
    NIGHT,
    CameraLook,
    ScenarioBuilder,
    build_once,
    build_scenario,
    estimate_background,
    load_sequence,
    walking_tracks,
)

logger = logging.getLogger(__name__)

#: The suite's default frame rate; ``--fps 7`` builds the same scenarios at the rate of the issue's elevated camera.
FPS = 10.0
#: The far walkers' scale: TUD people (122-310 px tall in 640x480) become 27-68 px tall.
FAR_SCALE = 0.22


@dataclass(frozen=True)
class ScenarioSpec:
    """One scenario of the suite: what it is built from and whether the node was tuned on it."""

    name: str
    kind: str  # walk | still | far | traffic | parked | night
    source: str  # relative to the data root
    held_out: bool

    @property
    def person_free(self) -> bool:
        return self.kind in ("traffic", "parked")

    @property
    def walk_through(self) -> bool:
        """People walk through the scene, with a traffic clip between them (walk, and walk as seen at night)."""
        return self.kind in ("walk", "night")

    @property
    def look(self) -> CameraLook:
        return NIGHT if self.kind == "night" else CameraLook()


SUITE: list[ScenarioSpec] = [
    spec
    for seq, held in (("TUD-Campus", False), ("TUD-Stadtmitte", True))
    for spec in (ScenarioSpec(f"{k}-{seq.lower()}", k, f"mot15/{seq}", held) for k in ("walk", "still", "far"))
] + [
    spec
    for video, held in (("traffic_overhead", False), ("traffic_suburban", True))
    for spec in (ScenarioSpec(f"{k}-{video.split('_')[1]}", k, f"distractors/{video}.avi", held) for k in ("traffic", "parked"))
] + [ScenarioSpec(f"night-{seq.lower()}", "night", f"mot15/{seq}", True) for seq in ("TUD-Campus", "TUD-Stadtmitte")]


def _other_video(data_root: Path, spec: ScenarioSpec) -> list[Path]:
    """The traffic clip inserted into a walk scenario: overhead with the tuned sequence, suburban with the held-out."""
    return [data_root / "distractors" / ("traffic_suburban.avi" if spec.held_out else "traffic_overhead.avi")]


def camera_look(spec: ScenarioSpec, view: str = "day", mirrored: bool = False) -> CameraLook:
    """How the scenario's camera renders it in a view of the suite: the view's look (:data:`LOOKS`: the same scenes at
    dusk, say), the night scenarios staying at night; ``mirrored``: left and right swapped."""
    return replace(spec.look if spec.kind == "night" else LOOKS[view], mirrored=mirrored)


def build(spec: ScenarioSpec, data_root: Path, out_dir: Path, fps: float = FPS, mirrored: bool = False,
          view: str = "day") -> dict:
    """Write the scenario's video (at ``fps``, as :func:`camera_look` renders it), truth and scenario.json into
    ``out_dir``; return scenario.json."""
    src = Path(data_root) / spec.source
    look = camera_look(spec, view, mirrored)
    if spec.walk_through:
        return build_scenario([src], _other_video(data_root, spec), out_dir, fps=fps, empty_seconds=10.0, look=look)
    if spec.person_free:
        cap = cv2.VideoCapture(str(src))
        size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        cap.release()
        out = ScenarioBuilder(out_dir, size, fps, look=look)
        out.distractor(src, 3600.0, 30.0 if spec.kind == "parked" else 0.0)
        return out.finish()
    seq = load_sequence(src)
    bg = estimate_background(seq)
    out = ScenarioBuilder(out_dir, seq.frames[0].shape[1::-1], fps, look=look)
    walkers = sorted(walking_tracks(seq), key=lambda t: -len(seq.tracks[t]))
    out.empty(bg, 8.0)
    if spec.kind == "still":
        for track, seconds in zip(walkers[:2], (40.0, 20.0)):
            out.still(seq, bg, track, seconds)
            out.empty(bg, 8.0)
    else:
        for group in (walkers[0::2][:3], walkers[1::2][:3]):
            out.far(seq, bg, group, FAR_SCALE)
            out.empty(bg, 8.0)
    return out.finish()


def ensure_built(spec: ScenarioSpec, data_root: Path, work: Path, fps: float = FPS, mirrored: bool = False,
                 view: str = "day") -> Path:
    """The scenario's folder under ``work``, built unless a build of the same inputs, recipe and code is there."""
    folder = Path(work) / spec.name
    inputs = [Path(data_root) / spec.source, *(_other_video(data_root, spec) if spec.walk_through else [])]
    recipe = {"spec": spec.__dict__, "fps": fps, **({"mirrored": True} if mirrored else {}),
              **({"view": view} if view != "day" else {})}
    if not build_once(folder, inputs, recipe, lambda: build(spec, data_root, folder, fps, mirrored, view), [Path(__file__)]):
        logger.info("built scenario %s", spec.name)
    return folder


def run_suite(cfg: NodeConfig, data_root: Path, work: Path, names: list[str] | None = None, fps: float = FPS,
              mirrored: bool = False, view: str = "day") -> list[dict]:
    """Build (once, at ``fps``, ``mirrored`` or not, in ``view``: :func:`camera_look`) and simulate every scenario;
    one row of figures per scenario."""
    from camera_node.simulate import simulate

    specs = [s for s in SUITE if names is None or s.name in names]
    rows = []
    for spec in tqdm(specs, desc="suite", unit="scenario"):
        folder = ensure_built(spec, data_root, work, fps, mirrored, view)
        size = json.loads((folder / "scenario.json").read_text())["size"]
        report = simulate(cfg.shaped_like(*size), str(folder / "scenario.avi"), folder / "run", folder / "truth.csv",
                          progress=False)
        rows.append(row_of(spec, report["metrics"]))
    return rows


def row_of(spec: ScenarioSpec, metrics: dict) -> dict:
    """The suite's figures for one scenario, and which of the issue's goals it misses."""
    node = metrics["recorders"]["node"]
    row = {
        "scenario": spec.name,
        "held_out": spec.held_out,
        "presences": node["person_intervals"],
        "events": node["events"],
        "caught": node["events_caught"],
        "false_alerts": node["false_alerts"],
        "frame_recall": node["frame_recall"],
        "median_latency_s": node["median_alert_latency_s"],
        "max_latency_s": node["max_alert_latency_s"],
        "saved_vs_oracle": metrics["saved_vs_oracle"] if node["person_intervals"] else None,
        "cnn_person_free": metrics["cnn_share_person_free_frames"],
    }
    row["misses"] = goal_misses(spec, row)
    return row


def goal_misses(spec: ScenarioSpec, row: dict) -> list[str]:
    """Issue 12's bar: one event per presence, frame recall (0.98 still / 0.95 else), no false alert,
    median latency <= 0.5 s, >= 95% of the oracle's savings, CNN on < 10% of person-free frames."""
    misses = []
    if row["false_alerts"]:
        misses.append("false alerts")
    if row["cnn_person_free"] is not None and row["cnn_person_free"] >= 0.10:
        misses.append("CNN >= 10% of empty frames")
    if spec.person_free:
        return misses + (["events"] if row["events"] else [])
    if row["caught"] < row["presences"] or row["events"] != row["presences"]:
        misses.append("events != presences")
    if row["frame_recall"] < (0.98 if spec.kind == "still" else 0.95):
        misses.append("frame recall")
    if row["median_latency_s"] is None or row["median_latency_s"] > 0.5:
        misses.append("latency")
    if row["saved_vs_oracle"] < 0.95:
        misses.append("savings")
    return misses


def suite_table(rows: list[dict]) -> str:
    """Markdown: one line per scenario, tuned ones first."""
    cols = ["scenario", "held_out", "presences", "events", "caught", "false_alerts", "frame_recall",
            "median_latency_s", "max_latency_s", "saved_vs_oracle", "cnn_person_free", "misses"]
    fmt = {"held_out": lambda v: "held out" if v else "tuned", "misses": lambda v: ", ".join(v) or "none",
           "cnn_person_free": lambda v: "-" if v is None else f"{v:.1%}"}
    lines = ["| " + " | ".join(cols) + " |", "|---" * len(cols) + "|"]
    for row in sorted(rows, key=lambda r: r["held_out"]):
        lines.append("| " + " | ".join(fmt.get(c, lambda v: "-" if v is None else str(v))(row[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"

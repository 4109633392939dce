"""``smartcam node simulate``: run the node on a file as fast as possible and score it.

Writes ``events.jsonl``, ``clips/``, ``thumbs/`` and ``ledger.json``; with
ground truth also ``metrics.json`` and ``metrics.md`` (node vs motion-only
vs oracle, same frames, same process).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from camera_node.config import NodeConfig
from camera_node.crop_dump import CropDump
from camera_node.evaluation import (
    SimEvent,
    intervals,
    load_presence,
    metrics_table,
    motion_only_events,
    oracle_events,
    score,
)
from camera_node.node import Node, run_source
from camera_node.publisher import Publisher
from camera_node.source import FrameSource, SourceError
from camera_node.spool import Spool

logger = logging.getLogger(__name__)


def make_publisher(cfg: NodeConfig, out_dir: Path, broker: str | None) -> Publisher | None:
    """A started publisher for ``broker`` (or the config's URL); ``None`` if neither is set."""
    url = broker or cfg.mqtt.url
    if not url:
        return None
    spool = Spool(cfg.mqtt.queue_dir or Path(out_dir) / "queue", cfg.mqtt.queue_max_bytes)
    password = cfg.mqtt.password()
    publisher = Publisher(url, cfg.mqtt.prefix, cfg.camera_id, spool, cfg.mqtt.keepalive, password, tls=cfg.mqtt.tls)
    publisher.start()
    return publisher


def simulate(cfg: NodeConfig, source_uri: str, out_dir: Path, gt: Path | None = None, broker: str | None = None,
             progress: bool = True, max_frames: int | None = None, dump_crops: Path | None = None,
             allow_truncated: bool = False, serve_clips: float = 0.0) -> dict:
    """Run the node over ``source_uri``; return the report (ledger, budgets, metrics).

    ``serve_clips``: once the source ends, keep answering clip requests until that many seconds pass without
    one (so a gateway, or its page, can fetch the clips). ``max_frames`` stops early; ``dump_crops`` writes the person-free CNN crops there
    (see :mod:`camera_node.crop_dump`). A file that ends well before the frames it states raises
    :class:`SourceError` once the outputs are written, unless ``allow_truncated``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    source = FrameSource(source_uri, fps=cfg.source.fps, realtime=cfg.source.realtime, reconnect_delay=None)  # runs to the end
    publisher = make_publisher(cfg, out_dir, broker)
    dump = CropDump(dump_crops) if dump_crops is not None else None
    node = Node(cfg, out_dir, source.fps, publisher, dump, trace=True)
    if publisher is not None:
        publisher.on_config = node.request_config
    try:
        run_source(node, source, progress, max_frames)
        if node.clips is not None and serve_clips > 0:
            logger.info("serving clips until %.0f s pass without a request", serve_clips)
            node.clips.wait_quiet(serve_clips)
    finally:
        if node.clips is not None:
            node.clips.stop()
        if publisher is not None:
            publisher.stop()
    report = node.report()
    report["source"] = {"uri": source_uri, "fps": source.fps, "skipped_images": source.skipped,
                         "frames_stated": source.frame_count, "frames_decoded": source.delivered}
    truncated = max_frames is None and source.truncated()
    if truncated:
        logger.warning("%s decoded %d of the %d frames it states: the file ends early", source_uri, source.delivered, source.frame_count)
    if publisher is not None:
        report["mqtt"] = {"delivered": publisher.delivered, "queued": len(publisher.spool), "dropped": publisher.spool.dropped}
    (out_dir / "ledger.json").write_text(json.dumps(report, indent=2))
    if dump is not None:
        report["dumped_crops"] = dump.write(load_presence(gt, node.frames + node.corrupt_frames) if gt is not None else None)
    if gt is not None:
        metrics = evaluate_run(cfg, node, source.fps, gt)
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
        (out_dir / "metrics.md").write_text(metrics_table(metrics))
        report["metrics"] = metrics
    if truncated and not allow_truncated:
        raise SourceError(f"{source_uri} decoded {source.delivered} of the {source.frame_count} frames it states (cut off?); "
                          f"outputs in {out_dir} cover only those. --allow-truncated accepts it")
    return report


def evaluate_run(cfg: NodeConfig, node: Node, fps: float, gt: Path) -> dict:
    """Node, motion-only and oracle scored on the same frames."""
    trace = node.trace
    n = len(trace.jpeg_bytes)
    presence = load_presence(gt, n)
    truth = intervals(presence, merge_gap=int(cfg.events.event_gap * fps))
    led = node.recorder.ledger
    continuous = led.continuous_bytes
    records = trace.events
    per_event = (led.thumbnail_bytes + led.message_bytes) // max(len(records), 1)
    ours = [SimEvent(r["alert_frame"], r["start_frame"], r["clip_first_frame"], r["clip_last_frame"], r["clip_bytes"]) for r in records]
    # Our bytes: clips as written plus everything sent (thumbnails, messages).
    if ours:
        ours[0].bytes += led.thumbnail_bytes + led.message_bytes
    refs = {
        "node": ours,
        "motion-only": motion_only_events(trace.motion, trace.timestamps, fps, cfg.events, cfg.recorder, trace.jpeg_bytes, per_event, cfg.sensor.width, cfg.sensor.height),
        "oracle": oracle_events(truth, fps, cfg.recorder, trace.jpeg_bytes, per_event),
    }
    recorders = {name: score(evs, truth, presence, fps, continuous) for name, evs in refs.items()}
    oracle_saved = recorders["oracle"]["storage_saved"]
    cnn_share_empty = None
    empty = ~presence
    if empty.any():
        cnn = [c for c, e in zip(trace.cnn, empty) if e]
        cnn_share_empty = round(sum(cnn) / len(cnn), 5)
    return {
        "frames": n,
        "fps": fps,
        "continuous_bytes": continuous,
        "recorders": recorders,
        "saved_vs_oracle": round(recorders["node"]["storage_saved"] / oracle_saved, 4) if oracle_saved > 0 else 0.0,
        "cnn_share_person_free_frames": cnn_share_empty,
    }

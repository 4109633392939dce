"""The node: wires the stages frame by frame and reports what it did.

source -> sensor (JPEG) -> recorder ring -> motion (1/4 decode; in a dark, flat scene differences judged by its contrast)
-> levels (such a frame stretched) -> person
(CNN on proposals and track re-checks, 1/2 decode or finer for small crops) -> events -> recorder
clips + thumbnails -> publisher. Everything the run produced goes to an
:class:`EventSink` (files for the simulator) and, if configured, MQTT.
"""
from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

import contract
from camera_node.budget import (
    InferenceBudget,
    Usage,
    budget_report,
    check_static_budget,
    energy_estimate,
    energy_report,
    inference_burst,
    inferences_per_second,
)
from camera_node.clip_server import ClipServer
from camera_node.config import NodeConfig
from camera_node.crop_dump import CropDump
from camera_node.events import Event, EventChange, EventStateMachine
from camera_node.levels import DarkScene, stretched
from camera_node.motion import MotionDetector
from camera_node.person import Detection, PersonStage, scale_box
from camera_node.publisher import Publisher
from camera_node.recorder import ClipInfo, Recorder
from camera_node.sensor import CorruptFrame, Sensor
from camera_node.source import Frame, FrameSource
from models import SHIPPED_MODEL
from models.inference import TfliteClassifier
from models.inference.cascade import open_cascade
from models.inference.measure import count_macs, min_arena_size
from models.inference.model_info import operating_threshold
from models.inference.preprocess import Box

logger = logging.getLogger(__name__)

#: On the SD card while an event is open: the node ends it after a reboot (power cut, watchdog, crash).
OPEN_EVENT_JOURNAL = "open_event.json"


@dataclass
class FrameTrace:
    """Per-frame facts and event records of a run that the simulator's references and metrics reuse: kept only
    when the node is asked to (a node running live keeps none, its state bounded however long it runs)."""

    jpeg_bytes: list[int] = field(default_factory=list)
    timestamps: list[float] = field(default_factory=list)  # on the steady clock
    motion: list[bool] = field(default_factory=list)
    cnn: list[bool] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)  # as written to events.jsonl


class EventSink:
    """Writes events.jsonl and thumbnails into an output folder. A card that refuses a write (full, read-only)
    loses that file, logged, never the node: the messages still go out."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self._events = self.out_dir / "events.jsonl"

        def start() -> None:
            (self.out_dir / "thumbs").mkdir(parents=True, exist_ok=True)
            self._events.write_text("")

        self._try("events.jsonl", start)

    def thumbnail(self, event_id: str, data: bytes) -> Path | None:
        """The thumbnail's file, or ``None`` if the card refused it."""
        path = self.out_dir / "thumbs" / f"{event_id}.jpg"
        if self._try(f"thumbnail of {event_id}", lambda: path.write_bytes(data)):
            return path
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)  # what a full card took of it
        return None

    def event(self, record: dict) -> None:
        def append() -> None:
            with open(self._events, "a") as f:
                f.write(json.dumps(record) + "\n")

        self._try(f"event {record['event_id']} in events.jsonl", append)

    @staticmethod
    def _try(what: str, write: Callable[[], object]) -> bool:
        try:
            write()
        except OSError as exc:
            logger.error("%s not written: %s", what, exc)
            return False
        return True


class Node:
    """One camera node. Feed frames with :meth:`process`, then :meth:`finish`."""

    def __init__(self, cfg: NodeConfig, out_dir: Path, fps: float, publisher: Publisher | None = None,
                 crop_dump: CropDump | None = None, trace: bool = False) -> None:
        """``trace``: keep every frame's facts and every event record (:class:`FrameTrace`) for scoring the run."""
        self.cfg = cfg
        self.fps = fps
        self.out_dir = Path(out_dir)
        self.publisher = publisher
        model_path = cfg.detector.model or SHIPPED_MODEL
        self.model_bytes = Path(model_path).read_bytes()
        self.macs = count_macs(self.model_bytes)
        self.arena_bytes = min_arena_size(self.model_bytes)
        self.flash_bytes = len(self.model_bytes)
        d = cfg.detector
        self.classifier = TfliteClassifier(self.model_bytes, d.backend)
        self.cascade = None
        self.confirm_units = 0.0  # one confirmation in screen invokes (latency is linear in MACs)
        if d.confirm_model is not None:
            self.cascade = open_cascade(self.classifier, model_path, d.confirm_model, d.backend, d.screen_threshold,
                                        d.confirm_threshold if d.confirm_threshold is not None else d.threshold)
            confirm_bytes = self.cascade.confirm.model_bytes
            self.confirm_units = count_macs(confirm_bytes) / self.macs
            self.flash_bytes += len(confirm_bytes)
            self.arena_bytes += min_arena_size(confirm_bytes)  # both arenas live at once
        check_static_budget(cfg.budget, self.flash_bytes, self.arena_bytes)
        threshold = d.threshold or operating_threshold(model_path)
        s = cfg.sensor
        self.motion_scale, self.person_scale = s.motion_decode_scale, s.person_decode_scale  # resolved once
        self.sensor = Sensor(s.width, s.height, s.jpeg_quality)
        self.analysis_fps = min(fps, cfg.motion.analysis_fps or fps)
        # motion runs on the analysed frames; a scene as flat as the CNN's crops are stretched for is judged by its contrast
        self.motion = MotionDetector(cfg.motion, self.analysis_fps, cfg.detector.stretch_below)
        self.dark = DarkScene(cfg.detector.stretch_below)  # the person crops' levels (stage 3b)
        self.person = PersonStage(cfg.detector, self.classifier, threshold, self.person_scale, (s.width, s.height),
                                  crop_dump.add if crop_dump is not None else None, self.cascade, fps=fps)
        self.events = EventStateMachine(cfg.events, cfg.camera_id, s.width, s.height)
        lookback = cfg.events.start_n / fps
        self.recorder = Recorder(cfg.recorder, self.out_dir / "clips", fps, s.width, s.height, lookback)
        self.clips: ClipServer | None = None  # clips on demand, over the publisher's connection
        if publisher is not None:
            self.clips = ClipServer(self.recorder.clips_dir, publisher.send_now, cfg.mqtt.clip_rate_bytes_per_s,
                                    lambda: self.recorder.clip.event_id if self.recorder.clip is not None else None,
                                    self.recorder.retention.mark_fetched)
            publisher.on_clip_request = self.clips.request
            self.clips.start()
        self.per_second = cfg.budget.max_inferences_per_second or inferences_per_second(
            self.macs, cfg.energy.motion_ms_per_frame, self.analysis_fps)
        self.budget = InferenceBudget(self.per_second, inference_burst(self.per_second, cfg.budget.frame_buffers, self.analysis_fps))
        self.sink = EventSink(self.out_dir)
        self.trace = FrameTrace() if trace else None
        self._moving = False  # the last analysed frame's verdict
        self.corrupt_frames = 0
        self.frames = 0
        self.analysed_frames = 0  # frames the motion stage ran on (all, unless motion.analysis_fps skips some)
        self._analysed_at: float | None = None
        self.motion_frames = 0
        self.cnn_frames = 0
        self.event_count = 0
        self.enabled = True
        self._best_jpeg: dict[str, bytes] = {}
        self._pending_end: dict[str, Event] = {}
        self._early_clips: dict[str, ClipInfo] = {}  # of the open event at most
        self._thumbs: dict[str, Path] = {}
        self._config_updates: queue.Queue = queue.Queue()
        self._last_stats = None
        self._last: tuple[int, float] = (0, 0.0)  # the last frame's index and steady time
        self._wall_offset = 0.0  # the last frame's wall time less its steady time
        self._journal = self.out_dir / OPEN_EVENT_JOURNAL
        self._journal_event: str | None = None  # the event the journal holds
        self.interrupted_events = self._end_interrupted_event()

    # -- per frame -------------------------------------------------------
    def process(self, frame: Frame) -> None:
        """Run one frame through every stage (a corrupt frame is counted and skipped). The stages time everything by
        the frame's steady clock; the wall clock only stamps the messages (:meth:`_wall`)."""
        self._apply_config_updates()
        now = frame.clock
        self._wall_offset = frame.timestamp - now
        self._last = (frame.index, now)
        analyse = self._due_for_analysis(now)
        try:
            jpeg = self.sensor.capture(frame.image)
            small = self.sensor.decode_gray(jpeg, self.motion_scale) if analyse else None
        except (CorruptFrame, ValueError) as exc:  # a frame the sensor/decoder cannot handle
            self.corrupt_frames += 1
            logger.warning("frame %d skipped: %s", frame.index, exc)
            return
        self.frames += 1
        self._handle_clips(self.recorder.push(frame.index, now, jpeg))
        detections: list[Detection] = []
        moving = self._moving  # a frame not analysed keeps the last verdict
        ran = 0
        if analyse:
            self._analysed_at = now
            self.analysed_frames += 1
            tiny = 1.0 / self.motion_scale
            result = self.motion.update(small, [scale_box(b, tiny) for b in self.person.occupied()])
            self.person.vacate([scale_box(b, self.motion_scale) for b in result.vacated])
            moving = bool(result.proposals)
            if self.enabled:
                detections, ran = self._detect(frame, jpeg, small, result.proposals)
        self.motion_frames += moving
        self.recorder.count_motion(moving)
        self._moving = moving
        self.cnn_frames += ran > 0
        if self.trace is not None:
            self.trace.cnn.append(ran > 0)
            self.trace.jpeg_bytes.append(len(jpeg))
            self.trace.timestamps.append(now)
            self.trace.motion.append(moving)
        for change in self.events.update(frame.index, now, detections):
            self._on_change(change, jpeg)
        ev = self.events.current
        if ev is not None and ev.best_frame == frame.index:
            self._best_jpeg[ev.event_id] = jpeg
        self._maybe_stats(now)

    def _due_for_analysis(self, now: float) -> bool:
        """Every frame, or at most ``motion.analysis_fps`` a second (a 10% tolerance absorbs timestamp jitter)."""
        if self._analysed_at is None or self.analysis_fps >= self.fps:
            return True
        return now - self._analysed_at >= 0.9 / self.analysis_fps

    def _detect(self, frame: Frame, jpeg: bytes, small: np.ndarray, motion_boxes: list[Box]) -> tuple[list[Detection], int]:
        """The person stage on this frame's motion proposals (tiny-frame pixels), its crops cut through the levels
        table of the motion frame ``small`` (:mod:`camera_node.levels`; made only on frames that decode for the CNN);
        returns detections and CNN runs."""
        tiny = 1.0 / self.motion_scale
        levels = functools.cache(lambda: self.dark.stretch_table(small, self.motion.watched))
        before = self._spent()
        detections = self.person.process(
            frame.index, frame.clock, [scale_box(p, self.motion_scale) for p in motion_boxes],
            lambda scale: stretched(levels(), self.sensor.decode_gray(jpeg, scale)), self.budget.available(frame.clock),
            lambda box: self.motion.background_patch(scale_box(box, tiny)),
            lambda box, patch: self.motion.differs_from(scale_box(box, tiny), patch),
            lambda box: self.motion.frame_patch(scale_box(box, tiny)),
            lambda box: self.motion.scene_patch(scale_box(box, tiny)),
            lambda: levels() is not None,
        )
        ran = self._spent() - before
        self.budget.spend(frame.clock, math.ceil(ran))
        return detections, math.ceil(ran)

    def _spent(self) -> float:
        """CNN work so far, in screen-model invokes (a confirmation counts by its MACs)."""
        return self.person.inferences + (self.cascade.confirmed * self.confirm_units if self.cascade else 0.0)

    def finish(self) -> None:
        """End open events and clips, write the ledger."""
        index, ts = self._last
        for change in self.events.flush(index, ts):
            self._on_change(change, None)
        self._handle_clips(self.recorder.flush())
        self._maybe_stats(ts, force=True)

    # -- events ----------------------------------------------------------
    def _on_change(self, change: EventChange, jpeg: bytes | None) -> None:
        ev = change.event
        if change.kind == "new":
            self.event_count += 1
            if jpeg is not None:
                self._best_jpeg[ev.event_id] = jpeg
            self._handle_clips(self.recorder.start(ev.event_id, ev.start_time))
            self._send_event(change)
            self._send_thumbnail(ev)
            self._write_journal(ev)
        elif change.kind == "update":
            self._send_event(change)
            if change.best_changed:  # a better view of the person since the last thumbnail
                self._send_thumbnail(ev)
            self._write_journal(ev)
        else:
            if change.best_changed:
                self._send_thumbnail(ev)
            self._pending_end[ev.event_id] = ev
            clips = self.recorder.end(ev.event_id, ev.last_seen_time)
            if not clips and self.recorder.clip is None:  # no clip to wait for: it ended before the event, or none began
                clips = [self._early_clips.pop(ev.event_id, None) or ClipInfo(ev.event_id, None, None, None, 0, "no clip")]
            self._handle_clips(clips)

    def _handle_clips(self, clips: list[ClipInfo]) -> None:
        for clip in clips:
            ev = self._pending_end.pop(clip.event_id, None)
            if ev is not None:
                self._close_event(ev, clip)
            else:  # ended before its event did (the card's cap, a clip that could not start): sent with the event's end
                self._early_clips[clip.event_id] = clip

    def _close_event(self, ev: Event, clip: ClipInfo) -> None:
        message = self._message("end", ev, clip.bytes)
        self._publish(contract.TopicKind.EVENTS, message.to_bytes(), contract.QOS_EVENTS)
        if self._journal_event == ev.event_id:  # not a newer event that started during this one's post-roll
            self._journal.unlink(missing_ok=True)
            self._journal_event = None
        self._best_jpeg.pop(ev.event_id, None)
        thumb = self._thumbs.pop(ev.event_id, None)
        record = {
            "event_id": ev.event_id,
            "camera": self.cfg.camera_id,
            "start_time": self._wall(ev.start_time),
            "end_time": self._wall(ev.end_time),
            "start_frame": ev.start_frame,
            "alert_frame": ev.alert_frame,
            "last_person_frame": ev.last_seen_frame,
            "end_frame": ev.end_frame,
            "clip_first_frame": clip.first_frame,
            "clip_last_frame": clip.last_frame,
            "clip": str(clip.path.relative_to(self.out_dir)) if clip.path else None,
            "clip_bytes": clip.bytes,
            "clip_error": clip.error,
            "thumbnail": str(thumb.relative_to(self.out_dir)) if thumb else None,
            "score": round(ev.best_score, 4),
            "box": [round(v, 1) for v in (ev.best_box.x, ev.best_box.y, ev.best_box.w, ev.best_box.h)],
            "zones": sorted(ev.zones),
        }
        self.sink.event(record)
        if self.trace is not None:
            self.trace.events.append(record)

    def _write_journal(self, ev: Event) -> None:
        """Remember the open event on the SD card (atomically) so a reboot can end it."""
        doc = {"message": self._message("update", ev).model_dump(mode="json"), "last_seen": self._wall(ev.last_seen_time)}
        tmp = self._journal.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(doc))
            tmp.replace(self._journal)
            self._journal_event = ev.event_id
        except OSError as exc:  # a full card must not stop detection
            logger.error("cannot journal event %s: %s", ev.event_id, exc)

    def _end_interrupted_event(self) -> int:
        """After a reboot mid-event: send the ``end`` the previous run never sent; return how many (0 or 1)."""
        if not self._journal.exists():
            return 0
        try:
            doc = json.loads(self._journal.read_text())
            last = contract.EventMessage.model_validate(doc["message"])
            end_time = max(float(doc["last_seen"]), last.start_time)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.error("unreadable event journal %s (%s); discarded", self._journal, exc)
            self._journal.unlink(missing_ok=True)
            return 0
        end = last.model_copy(update={"type": "end", "seq": last.seq + 1, "end_time": end_time})
        self._publish(contract.TopicKind.EVENTS, end.to_bytes(), contract.QOS_EVENTS)
        self._journal.unlink(missing_ok=True)
        logger.warning("event %s was open when the node stopped; ended it at its last sighting", last.event_id)
        return 1

    def _message(self, kind: str, ev: Event, clip_bytes: int | None = None) -> contract.EventMessage:
        box = ev.best_box
        return contract.EventMessage(
            type=kind, event_id=ev.event_id, camera=self.cfg.camera_id, seq=ev.seq,
            start_time=self._wall(ev.start_time), end_time=self._wall(ev.end_time) if kind == "end" else None,
            score=round(min(1.0, ev.best_score), 4),
            box=contract.BoxModel(x=box.x, y=box.y, w=max(box.w, 1e-3), h=max(box.h, 1e-3)),
            frame_width=self.cfg.sensor.width, frame_height=self.cfg.sensor.height,
            zones=sorted(ev.zones), clip_bytes=clip_bytes,
        )

    def _wall(self, t: float | None) -> float | None:
        """A time on the steady clock as the wall clock reads it now (after NTP stepped it, as stepped)."""
        return None if t is None else t + self._wall_offset

    def _send_event(self, change: EventChange) -> None:
        self._publish(contract.TopicKind.EVENTS, self._message(change.kind, change.event).to_bytes(), contract.QOS_EVENTS)

    def _send_thumbnail(self, ev: Event) -> None:
        jpeg = self._best_jpeg.get(ev.event_id)
        if jpeg is None:
            return
        try:
            data = self.recorder.thumbnail(jpeg, ev.best_box)
        except ValueError as exc:
            logger.warning("no thumbnail for %s: %s", ev.event_id, exc)
            return
        self._thumbs[ev.event_id] = self.sink.thumbnail(ev.event_id, data)
        self._publish(contract.TopicKind.THUMBNAIL, data, contract.QOS_THUMBNAIL, event_id=ev.event_id)

    def _publish(self, kind: contract.TopicKind, payload: bytes, qos: int, event_id: str | None = None) -> None:
        name = contract.topic(self.cfg.mqtt.prefix, self.cfg.camera_id, kind, event_id)
        if kind is not contract.TopicKind.THUMBNAIL:
            self.recorder.count_sent(len(name) + len(payload))
        if self.publisher is not None:
            self.publisher.publish(kind, payload, qos, event_id=event_id)

    # -- stats and config ------------------------------------------------
    def request_config(self, update: contract.ConfigSetMessage) -> None:
        """Thread-safe: apply a config update before the next frame."""
        self._config_updates.put(update)

    def _apply_config_updates(self) -> None:
        while not self._config_updates.empty():
            update = self._config_updates.get()
            if update.threshold is not None:
                self.person.set_threshold(update.threshold)
            if update.event_gap is not None:
                self.events.event_gap = update.event_gap
            if update.enabled is not None:
                self.enabled = update.enabled
            logger.info("config updated: %s", update.model_dump(exclude_none=True))

    def _maybe_stats(self, ts: float, force: bool = False) -> None:
        if self._last_stats is None:
            self._last_stats = ts
        if not force and ts - self._last_stats < self.cfg.mqtt.stats_every:
            return
        self._last_stats = ts
        if self.publisher is None:
            return
        stats = contract.StatsMessage(
            camera=self.cfg.camera_id, time=self._wall(ts), frames=self.frames, motion_frames=self.motion_frames,
            cnn_frames=self.cnn_frames, inferences=self.person.inferences, events=self.event_count,
            queue_bytes=self.publisher.spool.bytes, dropped_messages=self.publisher.spool.dropped,
            ledger=self.recorder.ledger, card=self.recorder.retention.use(), energy=energy_estimate(energy_report(self.cfg.energy, self._usage(), self.cfg.energy.motion_ms_per_frame)),
        )
        self._publish(contract.TopicKind.STATS, stats.to_bytes(), contract.QOS_STATS)  # counted: the next stats' ledger holds it

    # -- report ----------------------------------------------------------
    def report(self) -> dict:
        """Ledger, budgets, energy and counters (written as ledger.json by the simulator)."""
        led = self.recorder.ledger
        usage = self._usage()
        return {
            "camera": self.cfg.camera_id,
            "ledger": led.summary(),
            "frames": self.frames,
            "analysed_frames": self.analysed_frames,
            "corrupt_frames": self.corrupt_frames,
            "motion_frames": self.motion_frames,
            "cnn_frames": self.cnn_frames,
            "cnn_frame_share": round(self.cnn_frames / max(self.frames, 1), 5),
            "inferences": self.person.inferences,
            "confirmations": self.cascade.confirmed if self.cascade else 0,
            "candidates_skipped_by_budget": self.person.skipped,
            "candidates_remembered_as_rejected": self.person.remembered,
            "candidates_unmoved_since_looked_at": self.person.unmoved,
            "events": self.event_count,
            "interrupted_events": self.interrupted_events,
            "clip_errors": list(self.recorder.errors),
            "card": self.recorder.retention.use().model_dump(),
            "decodes": {f"1/{k}": v for k, v in sorted(self.sensor.counters.decodes.items())},
            "decoded_pixels": {f"1/{k}": v for k, v in sorted(self.sensor.counters.pixels.items())},
            "budget": budget_report(self.cfg.budget, usage, self.per_second, self.budget.burst),
            "energy": energy_report(self.cfg.energy, usage, self.cfg.energy.motion_ms_per_frame),
        }

    def _usage(self) -> Usage:
        """What the node used so far, for the budget and energy figures."""
        s = self.cfg.sensor
        led = self.recorder.ledger
        # the finest decode a crop was cut from (a far person's: see camera_node.person.crop_scale)
        finest = min((n for n in self.sensor.counters.decodes if n <= self.person_scale), default=self.person_scale)
        return Usage(
            model_bytes=self.flash_bytes,
            arena_bytes=self.arena_bytes,
            macs=self.macs,
            max_jpeg_bytes=self.recorder.max_jpeg_bytes,
            peak_ring_bytes=self.recorder.peak_ring_bytes,
            person_frame_bytes=(s.width // finest) * (s.height // finest),
            motion_model_bytes=(s.width // self.motion_scale) * (s.height // self.motion_scale) * 12,  # 3 float32 a pixel
            seconds=led.seconds,
            frames=self.analysed_frames,
            inferences=round(self._spent()),
            peak_inferences_per_second=self.budget.peak,
            peak_inferences_in_a_row=self.budget.peak_in_a_row,
            sent_bytes=led.sent_bytes,
            stream_bytes=led.continuous_bytes,
            sd_bytes=self.recorder.sd_bytes_written,
        )


def run_source(node: Node, source: FrameSource, progress: bool = True, max_frames: int | None = None) -> None:
    """Feed every frame of ``source`` (or its first ``max_frames``) to ``node`` and finish it."""
    total = source.frame_count if max_frames is None else min(max_frames, source.frame_count or max_frames)
    started = time.perf_counter()
    for frame in tqdm(source, total=total, desc=f"node {node.cfg.camera_id}", unit="frame", disable=not progress):
        if max_frames is not None and frame.index >= max_frames:
            break
        node.process(frame)
    node.finish()
    logger.info("processed %d frames in %.1f s", node.frames, time.perf_counter() - started)

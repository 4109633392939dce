"""Validate one MQTT message at the edge and apply it to the store.

Every message is either applied or rejected with a counted reason, so a bad
message never stops the ones after it. Only a store failure (disk full,
database gone) raises: it is counted as a store error, not a rejection, and
the caller keeps the message and retries it.
Thumbnails are written (content-addressed, atomically) before the row that
points at them, after the oldest events made room for them under the cap.
"""
from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import contract
from gateway.clips import ClipFetcher
from gateway.config import LimitsConfig
from gateway.media import BadImage, MediaStore, check_jpeg
from gateway.store import Store

logger = logging.getLogger(__name__)

#: Kinds of fault logged (once each) at most; beyond, faults are only counted. Distinct bad payloads (a size, a
#: camera name: each detail different) neither flood the log nor grow the gateway's memory.
MAX_LOGGED_FAULTS = 64
#: What varies between faults of one kind: quoted values and numbers.
_VARYING = re.compile(r"'[^']*'|\"[^\"]*\"|\d+(\.\d+)?")


@dataclass
class IngestCounters:
    accepted: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)
    store_errors: Counter = field(default_factory=Counter)  # failed attempts, by exception type (retried)
    clock_skewed: Counter = field(default_factory=Counter)  # stats per camera dated by the gateway clock
    hook_errors: Counter = field(default_factory=Counter)  # post-commit callbacks that raised (message kept)
    _logged: set = field(default_factory=set)


class Ingestor:
    """Applies messages to the store; counts and logs (once per reason) what it rejects."""

    def __init__(self, store: Store, media: MediaStore, prefix: str, limits: LimitsConfig,
                 on_event: Callable[[str, dict], None] | None = None,
                 make_room: Callable[[int], object] | None = None, clips: ClipFetcher | None = None) -> None:
        self.store, self.media, self.prefix, self.limits = store, media, prefix, limits
        self.clips = clips  # manifests and chunks of the clips asked for
        self.make_room = make_room
        self.counters = IngestCounters()
        self.on_event = on_event
        self._committed: list[tuple[str, dict]] = []  # what the current message committed, for on_event

    def handle(self, topic: str, payload: bytes, received_at: float | None = None) -> bool:
        """Apply one message; return whether it was accepted."""
        at = time.time() if received_at is None else received_at
        self._committed.clear()
        try:
            parsed = contract.parse_topic(self.prefix, topic)
            kind = parsed.kind
            if kind is contract.TopicKind.THUMBNAIL:
                self._thumbnail(parsed, payload, at)
            elif kind in contract.CLIP_DATA:
                self._clip(parsed, payload)
            elif len(payload) > self.limits.max_json_bytes:
                raise contract.ContractError(f"payload of {len(payload)} B exceeds {self.limits.max_json_bytes} B")
            elif kind is contract.TopicKind.EVENTS:
                self._event(parsed, payload, at)
            elif kind is contract.TopicKind.STATS:
                self._stats(parsed, payload, at)
            elif kind is contract.TopicKind.AVAILABILITY:
                self._availability(parsed, payload, at)
            else:  # config/set is for nodes; seen on a wildcard, ignored (and counted)
                kind = contract.TopicKind.CONFIG_SET
        except (contract.ContractError, BadImage) as exc:
            self._reject(type(exc).__name__, topic, str(exc))
            self.store.add_dead_letter(topic, payload, type(exc).__name__, at)  # store down: raises, retried
            return False
        except Exception as exc:  # a store failure (disk full, database gone): the caller retries
            self.counters.store_errors[type(exc).__name__] += 1
            self._log_once("store error", topic, f"{type(exc).__name__}: {exc}")
            raise
        self.counters.accepted[kind.value] += 1
        self._after_commit()
        return True

    def _after_commit(self) -> None:
        """Run ``on_event`` for what was committed, outside the store's retry: a bug there is logged and
        counted, never a reason to ingest the message again."""
        for kind, info in self._committed:
            if self.on_event is None:
                break
            try:
                self.on_event(kind, info)
            except Exception as exc:  # noqa: BLE001 - the message is stored; the hook's failure is its own
                self.counters.hook_errors[type(exc).__name__] += 1
                self._log_once("post-commit hook failed", kind, f"{type(exc).__name__}: {exc}")
        self._committed.clear()

    def _event(self, topic: contract.Topic, payload: bytes, at: float) -> None:
        msg = contract.EventMessage.from_bytes(payload)
        if msg.camera != topic.camera:
            raise contract.ContractError(f"payload camera {msg.camera!r} does not match topic camera {topic.camera!r}")
        with self.store.transaction():
            self.store.touch_camera(msg.camera, at)
            self.store.upsert_event(msg, at)
            if msg.type == "new" and self.store.end_orphaned_events(msg.camera, msg.event_id, at):
                logger.warning("camera %s started %s with an earlier event still open: ended it", msg.camera, msg.event_id)
        self._committed.append((msg.type, {"camera": msg.camera, "event_id": msg.event_id, "score": msg.score,
                                           "zones": sorted(msg.zones or [])}))

    def _clip(self, topic: contract.Topic, payload: bytes) -> None:
        if self.clips is None:
            raise contract.ContractError("clip data, but this gateway fetches no clips")
        if topic.kind is contract.TopicKind.CLIP_MANIFEST:
            self.clips.on_manifest(topic.camera, topic.event_id, payload)
        else:
            self.clips.on_chunk(topic.camera, topic.event_id, topic.chunk, payload)

    def _thumbnail(self, topic: contract.Topic, payload: bytes, at: float) -> None:
        check_jpeg(payload, self.limits.max_thumbnail_bytes, self.limits.max_thumbnail_pixels)
        if self.make_room:
            self.make_room(len(payload))  # the size cap holds at every moment, not just after sweeps
        sha, relative = self.media.put(payload)  # the file first ...
        with self.store.transaction():  # ... then the rows that point at it
            self.store.touch_camera(topic.camera, at)
            self.store.attach_thumbnail(topic.camera, topic.event_id, sha, len(payload), relative, at)
        self._committed.append(("thumbnail", {"camera": topic.camera, "event_id": topic.event_id, "sha256": sha}))

    def _stats(self, topic: contract.Topic, payload: bytes, at: float) -> None:
        stats = contract.StatsMessage.from_bytes(payload)
        if stats.camera != topic.camera:
            raise contract.ContractError(f"payload camera {stats.camera!r} does not match topic camera {topic.camera!r}")
        # The node's clock dates its ledger unless it is off (no NTP yet, drift): then the gateway's does.
        dated = stats.time
        if abs(stats.time - at) > self.limits.max_clock_skew:
            dated = at
            self.counters.clock_skewed[stats.camera] += 1
            if self.counters.clock_skewed[stats.camera] == 1:
                logger.warning("camera %s clock is off by %+.0f s; dating its stats by the gateway clock", stats.camera, stats.time - at)
        with self.store.transaction():
            self.store.add_stats(stats, dated)
        self._committed.append(("stats", {"camera": stats.camera}))

    def _availability(self, topic: contract.Topic, payload: bytes, at: float) -> None:
        if not payload:  # a retained message being cleared (delivered to subscribers too): nothing said
            logger.debug("retained availability of %s cleared", topic.camera)
            return
        try:
            value = contract.Availability(payload.decode("ascii"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise contract.ContractError(f"availability must be one of online/offline/stopped, got {payload[:32]!r}") from exc
        with self.store.transaction():
            self.store.touch_camera(topic.camera, at, value.value)
        self._committed.append(("availability", {"camera": topic.camera}))

    def _reject(self, reason: str, topic: str, detail: str) -> None:
        self.counters.rejected[reason] += 1
        self._log_once(f"rejected message ({reason})", topic, detail)

    def _log_once(self, what: str, topic: str, detail: str) -> None:
        """Log a fault the first time its kind (its detail less quoted values and numbers) is seen."""
        key = (what, _VARYING.sub("_", detail.split(":")[0])[:80])
        logged = self.counters._logged
        if key in logged or len(logged) > MAX_LOGGED_FAULTS:
            return
        if len(logged) == MAX_LOGGED_FAULTS:
            logged.add(("", "cap"))
            logger.warning("%d kinds of fault logged: further ones are only counted (metrics)", MAX_LOGGED_FAULTS)
            return
        logged.add(key)
        logger.warning("%s on %r: %s", what, topic[:200], detail[:300])

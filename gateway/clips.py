"""Clips on demand, the gateway's side: ask a node for an event's clip, check every chunk, store it playable.

:meth:`ClipFetcher.fetch` publishes a :class:`contract.ClipRequest`; the node answers with a manifest and the
chunks. Each chunk is checked against the manifest (index in range, exact size, not a duplicate) and written
at its offset into a part file; a chunk of an event nobody asked for, out of range or of the wrong size is
rejected (:class:`contract.ContractError`: the ingestor counts it). When every chunk is in, the whole is
checked against the manifest's SHA-256 — a mismatch discards it and asks again — then transcoded to MP4
(:mod:`gateway.video`) and stored as the event's clip, a media file under the same size cap and retention as
the thumbnails. Nothing half-written is ever served. A transfer that went quiet (a broker restart, a node
reboot) is resumed by :meth:`ClipFetcher.resume`: the gateway asks for the missing chunks only.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import contract
from gateway.config import ClipsConfig
from gateway.media import MediaStore
from gateway.store import Store
from gateway.video import BadClip, transcode_to_mp4

logger = logging.getLogger(__name__)


@dataclass
class Transfer:
    """One clip on its way: what the manifest promised and which chunks are in."""

    camera: str
    event_id: str
    part: Path
    manifest: contract.ClipManifest | None = None
    received: set[int] = field(default_factory=set)
    last_news: float = field(default_factory=time.monotonic)
    attempts: int = 1
    failed: str | None = None  # the node has no clip (its reason), or the clip failed its checks
    finishing: bool = False  # every chunk is in: being checked and stored

    @property
    def missing(self) -> list[int]:
        return [] if self.manifest is None else [i for i in range(self.manifest.chunks) if i not in self.received]


class ClipFetcher:
    """Requests clips, assembles and verifies them, stores them (thread-safe)."""

    def __init__(self, cfg: ClipsConfig, store: Store, media: MediaStore,
                 request: Callable[[str, contract.ClipRequest], None], make_room: Callable[[int], object] = lambda n: None) -> None:
        """``request(camera, req)`` publishes a request to the node; ``make_room(bytes)`` applies the size cap first."""
        self.cfg, self.store, self.media, self._request, self._make_room = cfg, store, media, request, make_room
        self.parts_dir = Path(cfg.parts_dir)  # made on the first fetch
        self.transfers: dict[tuple[str, str], Transfer] = {}
        self._finishers: list[threading.Thread] = []  # clips being checked and stored
        self._lock = threading.Lock()
        self.stored = 0
        self.hash_mismatches = 0
        self.duplicates = 0

    # -- asking ---------------------------------------------------------------------------------------
    def fetch(self, camera: str, event_id: str) -> Transfer | None:
        """Ask the node for the event's clip (no-op if stored or on its way); None if the event is unknown."""
        event = self.store.event(camera, event_id)
        if event is None:
            return None
        if event.get("clip_sha"):
            return None
        with self._lock:
            key = (camera, event_id)
            transfer = self.transfers.get(key)
            if transfer is not None and transfer.failed is None:
                return transfer
            if len(self.transfers) >= self.cfg.max_transfers:  # bounded: the oldest finished or failed goes
                oldest = min(self.transfers.values(), key=lambda t: (t.failed is None, t.last_news))
                self._drop(oldest)
            self.parts_dir.mkdir(parents=True, exist_ok=True)
            transfer = Transfer(camera, event_id, self.parts_dir / f"{camera}--{event_id}.part")
            self.transfers[key] = transfer
        self._request(camera, contract.ClipRequest(event_id=event_id))
        logger.info("asked camera %s for the clip of %s", camera, event_id)
        return transfer

    def status(self, camera: str, event_id: str) -> dict:
        """``stored``, ``fetching`` (with chunks in and expected), ``unavailable`` (with the reason) or ``none``."""
        event = self.store.event(camera, event_id)
        if event is not None and event.get("clip_sha"):
            return {"state": "stored"}
        with self._lock:
            t = self.transfers.get((camera, event_id))
            if t is None:
                return {"state": "none"}
            if t.failed is not None:
                return {"state": "unavailable", "reason": t.failed}
            return {"state": "fetching", "received": len(t.received), "chunks": t.manifest.chunks if t.manifest else None}

    def resume(self) -> int:
        """Ask again for what quiet transfers miss (the manifest if it never came); returns the requests sent."""
        now = time.monotonic()
        asks = []
        with self._lock:
            for t in self.transfers.values():
                if t.failed is not None or t.finishing or now - t.last_news < self.cfg.resume_after:
                    continue
                if t.attempts >= self.cfg.max_attempts:
                    t.failed = f"no answer after {t.attempts} requests"
                    continue
                t.attempts += 1
                t.last_news = now
                asks.append((t.camera, contract.ClipRequest(event_id=t.event_id, chunks=None if t.manifest is None else t.missing[:4096])))
        for camera, req in asks:
            logger.info("camera %s: resuming the clip of %s (%s)", camera, req.event_id,
                        "manifest" if req.chunks is None else f"{len(req.chunks)} chunk(s) missing")
            self._request(camera, req)
        return len(asks)

    # -- receiving (the ingestor calls these) ---------------------------------------------------------
    def on_manifest(self, camera: str, event_id: str, payload: bytes) -> None:
        manifest = contract.ClipManifest.from_bytes(payload)
        if manifest.event_id != event_id:
            raise contract.ContractError(f"manifest for {manifest.event_id!r} on the topic of {event_id!r}")
        with self._lock:
            t = self._transfer(camera, event_id)
            t.last_news = time.monotonic()
            if not manifest.available:
                t.failed = manifest.reason or "the node has no clip"
                logger.warning("camera %s has no clip for %s: %s", camera, event_id, t.failed)
                return
            if t.manifest is not None and t.manifest != manifest:  # the clip changed (a reboot rewrote it): start over
                t.received.clear()
            t.manifest = manifest
            with open(t.part, "ab") as f:
                f.truncate(manifest.bytes)
        self._maybe_finish(t)

    def on_chunk(self, camera: str, event_id: str, index: int, data: bytes) -> None:
        with self._lock:
            t = self._transfer(camera, event_id)
            m = t.manifest
            if m is None:
                raise contract.ContractError(f"chunk {index} of {event_id} before its manifest")
            if index >= m.chunks:
                raise contract.ContractError(f"chunk {index} of {event_id} out of range (the clip has {m.chunks})")
            expected = min(m.chunk_bytes, m.bytes - index * m.chunk_bytes)
            if len(data) != expected:
                raise contract.ContractError(f"chunk {index} of {event_id} holds {len(data)} B, not {expected} B")
            t.last_news = time.monotonic()
            if index in t.received:
                self.duplicates += 1
                return
            with open(t.part, "r+b") as f:
                f.seek(index * m.chunk_bytes)
                f.write(data)
            t.received.add(index)
        self._maybe_finish(t)

    def _transfer(self, camera: str, event_id: str) -> Transfer:
        t = self.transfers.get((camera, event_id))
        if t is None or t.failed is not None:
            raise contract.ContractError(f"clip data for {camera}/{event_id}, which no one asked for")
        return t

    # -- finishing ------------------------------------------------------------------------------------
    def _maybe_finish(self, t: Transfer) -> None:
        """Once every chunk is in, check, transcode and store it on a worker thread: the MQTT network thread
        that delivered the last chunk goes back to other cameras' alerts at once."""
        with self._lock:
            if t.manifest is None or t.missing or t.failed is not None or t.finishing or (t.camera, t.event_id) not in self.transfers:
                return
            t.finishing = True  # one finisher; stays listed (status "fetching") until stored or failed
            worker = threading.Thread(target=self._finish, args=(t,), name=f"clip-{t.event_id}", daemon=True)
            self._finishers.append(worker)
        worker.start()

    def wait_finished(self, timeout: float = 60.0) -> None:
        """Wait for the clips being checked and stored (tests, shutdown)."""
        with self._lock:
            workers = list(self._finishers)
        for worker in workers:
            worker.join(timeout)

    def _finish(self, t: Transfer) -> None:
        try:
            self._store(t)
        finally:
            with self._lock:
                if t.failed is None and self.transfers.get((t.camera, t.event_id)) is t:
                    del self.transfers[(t.camera, t.event_id)]
                self._finishers.remove(threading.current_thread())

    def _store(self, t: Transfer) -> None:
        digest = hashlib.sha256()
        with open(t.part, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
        if digest.hexdigest() != t.manifest.sha256:
            self.hash_mismatches += 1
            logger.error("clip of %s/%s does not match its manifest's SHA-256: discarded, asking again", t.camera, t.event_id)
            t.part.unlink(missing_ok=True)
            with self._lock:
                del self.transfers[(t.camera, t.event_id)]
            self.fetch(t.camera, t.event_id)
            return
        video = t.part.with_suffix(".mp4")
        try:
            transcode_to_mp4(t.part, video)
            data = video.read_bytes()
        except BadClip as exc:
            logger.error("clip of %s/%s: %s", t.camera, t.event_id, exc)
            t.failed = str(exc)
            return
        finally:
            t.part.unlink(missing_ok=True)
            video.unlink(missing_ok=True)
        self._make_room(len(data))
        sha, relative = self.media.put(data, ".mp4")
        with self.store.transaction():
            attached = self.store.attach_clip(t.camera, t.event_id, sha, len(data), relative, t.manifest.sha256, time.time())
        if not attached:
            logger.warning("clip of %s/%s arrived after its event was deleted", t.camera, t.event_id)
            return
        self.stored += 1
        self._request(t.camera, contract.ClipRequest(event_id=t.event_id, fetched=True))  # its card may let it go first
        logger.info("stored the clip of %s/%s: %d B MJPEG checked, %d B MP4", t.camera, t.event_id, t.manifest.bytes, len(data))

    def _drop(self, t: Transfer) -> None:
        self.transfers.pop((t.camera, t.event_id), None)
        t.part.unlink(missing_ok=True)

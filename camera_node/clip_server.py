"""Clips on demand: the gateway asks for an event's clip, the node sends a manifest and the chunks asked for.

A clip stays on the SD card until someone wants to watch it. On a request (:class:`contract.ClipRequest`)
the node answers with a manifest (size, SHA-256, chunk size) and then the chunks, read from the card one
at a time (a chunk is all an ESP32 holds in RAM). Chunks do not go through the store-and-forward spool
(the clip is on the card already): each is published with QoS 1 and the next waits for its PUBACK, at most
``rate_bytes_per_s`` — so an alert, spooled meanwhile, waits behind one chunk at most. If the connection
drops the transfer stops; the gateway asks again for the chunks it is missing (also after a node reboot).
The clip of the event still being recorded is not served.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import contract

logger = logging.getLogger(__name__)

#: Requests waiting at most (the oldest are dropped: the gateway asks again).
MAX_PENDING = 16


class ClipServer:
    """Answers clip requests from a worker thread."""

    def __init__(self, clips_dir: Path, send: Callable[[contract.TopicKind, bytes, str, int | None], bool],
                 rate_bytes_per_s: float, open_clip: Callable[[], str | None] = lambda: None,
                 on_fetched: Callable[[Path], None] = lambda path: None) -> None:
        """``send(kind, payload, event_id, chunk)`` publishes with QoS 1 and returns once acknowledged (False: not
        connected or not acknowledged); ``open_clip()`` is the event id whose clip is being written, if any;
        ``on_fetched(path)`` hears that the gateway stored that clip."""
        self.clips_dir = Path(clips_dir)
        self.send, self.rate, self.open_clip, self.on_fetched = send, rate_bytes_per_s, open_clip, on_fetched
        self._pending: deque[contract.ClipRequest] = deque(maxlen=MAX_PENDING)
        self._wake = threading.Condition()
        self._stopping = False
        self._serving = False
        self._last_request = time.monotonic()
        self._digests: dict[str, tuple[int, int, str]] = {}  # event id -> (size, mtime_ns, sha256)
        self.chunks_sent = 0
        self.bytes_sent = 0
        self._thread = threading.Thread(target=self._run, name="clip-server", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join(timeout=5)

    def request(self, req: contract.ClipRequest) -> None:
        """Queue a request (thread-safe; called on the MQTT network thread)."""
        with self._wake:
            self._pending.append(req)
            self._last_request = time.monotonic()
            self._wake.notify()

    def wait_quiet(self, seconds: float) -> None:
        """Block until ``seconds`` pass with no request queued or being served."""
        while True:
            with self._wake:
                quiet = time.monotonic() - self._last_request
                if not self._pending and not self._serving and quiet >= seconds:
                    return
            time.sleep(min(0.2, max(0.01, seconds - quiet)))

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                req = self._pending.popleft()
                self._serving = True
            try:
                self.serve(req)
            except OSError as exc:  # the card: unreadable, removed
                logger.error("clip %s not sent: %s", req.event_id, exc)
            finally:
                with self._wake:
                    self._serving = False
                    self._last_request = time.monotonic()

    def manifest(self, event_id: str) -> contract.ClipManifest:
        """What the node can say about this event's clip."""
        path = self.clips_dir / f"{event_id}.avi"
        if event_id == self.open_clip():
            return contract.ClipManifest(event_id=event_id, available=False, reason="still recording")
        try:
            st = path.stat()
        except FileNotFoundError:
            return contract.ClipManifest(event_id=event_id, available=False, reason="no clip on the card (never recorded, or deleted to keep the card under its cap)")
        if st.st_size > contract.MAX_CLIP_BYTES:
            return contract.ClipManifest(event_id=event_id, available=False, reason=f"clip of {st.st_size} B is over the contract's limit")
        cached = self._digests.get(event_id)
        if cached is None or cached[:2] != (st.st_size, st.st_mtime_ns):
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                while block := f.read(contract.CLIP_CHUNK_BYTES):
                    digest.update(block)
            cached = (st.st_size, st.st_mtime_ns, digest.hexdigest())
            if len(self._digests) >= MAX_PENDING:  # bounded: the oldest digest goes
                self._digests.pop(next(iter(self._digests)))
            self._digests[event_id] = cached
        return contract.ClipManifest(event_id=event_id, available=True, bytes=cached[0], sha256=cached[2])

    def serve(self, req: contract.ClipRequest) -> None:
        """Send the manifest (unless only chunks were asked for) and the chunks, paced; stop if a send fails."""
        if req.fetched:
            self.on_fetched(self.clips_dir / f"{req.event_id}.avi")
            return
        manifest = self.manifest(req.event_id)
        if (not req.chunks or not manifest.available) and not self.send(
                contract.TopicKind.CLIP_MANIFEST, manifest.to_bytes(), req.event_id, None):
            return
        if not manifest.available or req.chunks == []:
            return
        wanted = range(manifest.chunks) if req.chunks is None else sorted({c for c in req.chunks if c < manifest.chunks})
        started, sent = time.monotonic(), 0
        with open(self.clips_dir / f"{req.event_id}.avi", "rb") as f:
            for index in wanted:
                if self._stopping:  # the node is shutting down: the gateway asks for the rest later
                    return
                f.seek(index * manifest.chunk_bytes)
                data = f.read(manifest.chunk_bytes)
                if not self.send(contract.TopicKind.CLIP_CHUNK, data, req.event_id, index):
                    logger.warning("clip %s: chunk %d not acknowledged; the gateway will ask again", req.event_id, index)
                    return
                sent += len(data)
                self.chunks_sent += 1
                self.bytes_sent += len(data)
                ahead = sent / self.rate - (time.monotonic() - started)
                if ahead > 0:
                    with self._wake:  # paced, but woken by stop()
                        self._wake.wait_for(lambda: self._stopping, ahead)
        logger.info("clip %s: sent %d chunk(s), %d B", req.event_id, len(wanted), sent)

"""Retention: per-camera days AND a total size cap, oldest first; then sweep orphan files.

Totals come from the database. The sweeper also removes thumbnail rows no
event points at, and files (including stale temp files from a crash) that
no row points at, so a gateway killed mid-write leaves nothing behind.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from gateway.config import RetentionConfig
from gateway.media import MediaStore
from gateway.store import Store

logger = logging.getLogger(__name__)

#: Files younger than this are left alone (a thumbnail whose row is being written).
ORPHAN_GRACE_SECONDS = 60.0
#: Thumbnails looked up per query when making room.
_BATCH = 64
#: make_room runs from ingest (the network thread) and from the sweeper: never both at once (over-deleting).
_ROOM_LOCK = threading.Lock()


@dataclass
class SweepResult:
    expired_events: int = 0
    capped_events: int = 0
    thumbnails_deleted: int = 0
    orphan_files: int = 0
    stored_bytes: int = 0


def sweep(store: Store, media: MediaStore, cfg: RetentionConfig, now: float | None = None,
          orphan_grace: float = ORPHAN_GRACE_SECONDS) -> SweepResult:
    """Apply retention by age, then by size; delete what nothing references."""
    now = time.time() if now is None else now
    result = SweepResult()
    cameras = store.camera_ids()
    for camera in cameras:
        days = cfg.camera_days.get(camera, cfg.days)
        result.expired_events += _delete(store, store.expired_events(camera, now - days * 86400, limit=10**9))
    result.thumbnails_deleted += _drop_unreferenced(store, media)
    capped, dropped = make_room(store, media, cfg, 0)
    result.capped_events += capped
    result.thumbnails_deleted += dropped
    known = store.thumbnail_paths()
    for relative in media.files(older_than=orphan_grace):
        if relative not in known:
            media.remove(relative)
            result.orphan_files += 1
    result.stored_bytes = store.stored_bytes()
    if result.expired_events or result.capped_events or result.orphan_files:
        logger.info("retention: %s", result)
    return result


def make_room(store: Store, media: MediaStore, cfg: RetentionConfig, incoming: int) -> tuple[int, int]:
    """Delete the oldest thumbnails, with the events that show them, until ``incoming`` more bytes fit under
    the cap; returns (events, thumbnails) deleted. Only what frees bytes goes: an event without a thumbnail
    costs no stored bytes and is left to retention by age. One caller at a time (ingest and the sweeper)."""
    cap = int(cfg.max_gb * 1e9)
    events = thumbs = 0
    with _ROOM_LOCK:
        while store.stored_bytes() + incoming > cap:
            batch = store.oldest_thumbnails(_BATCH)
            if not batch:
                break
            for row in batch:
                with store.transaction():  # the rows go first: a crash in between leaves an orphan file, swept later
                    events += store.delete_thumbnail_and_events(row["sha256"], row["bytes"])
                media.remove(row["path"])
                thumbs += 1
                if store.stored_bytes() + incoming <= cap:
                    break
    return events, thumbs


def _delete(store: Store, rows: list[dict]) -> int:
    with store.transaction():
        for row in rows:
            store.delete_event(row["camera_id"], row["event_id"])
    return len(rows)


def _drop_unreferenced(store: Store, media: MediaStore) -> int:
    rows = store.unreferenced_thumbnails()
    for row in rows:
        with store.transaction():  # the row goes first: a crash in between leaves an orphan file, swept later
            store.delete_thumbnail_row(row["sha256"], row["bytes"])
        media.remove(row["path"])
    return len(rows)

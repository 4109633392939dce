"""Event store on SQLite (embedded default, WAL) or PostgreSQL (psycopg 3): one schema, one set of queries.

Writes are idempotent upserts keyed by ``(camera_id, event_id)``: QoS 1
duplicates and out-of-order new/update/end messages converge to the same
row. Storage totals come from the database, never from walking the disk.
"""
from __future__ import annotations

import base64
import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import contract

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_LEDGER_TYPES = {int: "BIGINT", float: "DOUBLE PRECISION"}
_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS cameras (
        camera_id TEXT PRIMARY KEY,
        first_seen DOUBLE PRECISION NOT NULL,
        last_seen DOUBLE PRECISION NOT NULL,
        availability TEXT,
        last_ledger TEXT,
        last_stats TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS events (
        camera_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        label TEXT NOT NULL DEFAULT 'person',
        state TEXT NOT NULL,
        seq INTEGER NOT NULL DEFAULT -1,
        start_time DOUBLE PRECISION,
        end_time DOUBLE PRECISION,
        score DOUBLE PRECISION,
        box TEXT,
        zones TEXT,
        clip_bytes BIGINT,
        thumbnail_sha TEXT,
        clip_sha TEXT,
        clip_source_sha256 TEXT,
        received_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (camera_id, event_id)
    )""",
    """CREATE INDEX IF NOT EXISTS events_start ON events (start_time)""",
    """CREATE INDEX IF NOT EXISTS events_thumbnail ON events (thumbnail_sha)""",
    """CREATE TABLE IF NOT EXISTS thumbnails (
        sha256 TEXT PRIMARY KEY,
        bytes BIGINT NOT NULL,
        path TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL
    )""",
    # Running total of stored bytes, kept in the same transactions as the thumbnail rows, so the
    # size cap is checked per ingest without scanning the table.
    """CREATE TABLE IF NOT EXISTS totals (name TEXT PRIMARY KEY, value BIGINT NOT NULL)""",
    # The node's ledger growth per camera and hour: one column per field of the contract's Ledger.
    "CREATE TABLE IF NOT EXISTS ledger (camera_id TEXT NOT NULL, hour BIGINT NOT NULL, "
    + "".join(f"{name} {_LEDGER_TYPES[field.annotation]} NOT NULL DEFAULT 0, " for name, field in contract.Ledger.model_fields.items())
    + "PRIMARY KEY (camera_id, hour))",
    # Messages that can never be stored (rejected at the edge), raw (base64) with the reason.
    """CREATE TABLE IF NOT EXISTS dead_letters (
        received_at DOUBLE PRECISION NOT NULL,
        topic TEXT NOT NULL,
        reason TEXT NOT NULL,
        payload TEXT NOT NULL
    )""",
    """CREATE INDEX IF NOT EXISTS dead_letters_received ON dead_letters (received_at)""",
]
#: Rejected messages kept aside (newest first), raw, for an operator to look at; older ones are dropped.
DEAD_LETTERS_KEPT = 1000

_UPSERT_EVENT = """
INSERT INTO events (camera_id, event_id, label, state, seq, start_time, end_time, score, box, zones, clip_bytes, received_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (camera_id, event_id) DO UPDATE SET
    state = CASE WHEN events.state = 'ended' OR excluded.state = 'ended' THEN 'ended' ELSE excluded.state END,
    seq = CASE WHEN excluded.seq > events.seq THEN excluded.seq ELSE events.seq END,
    start_time = COALESCE(events.start_time, excluded.start_time),
    end_time = COALESCE(excluded.end_time, events.end_time),
    score = CASE WHEN events.score IS NULL OR excluded.score > events.score THEN excluded.score ELSE events.score END,
    box = CASE WHEN excluded.seq >= events.seq THEN excluded.box ELSE events.box END,
    zones = CASE WHEN excluded.seq >= events.seq THEN excluded.zones ELSE events.zones END,
    clip_bytes = COALESCE(excluded.clip_bytes, events.clip_bytes),
    updated_at = excluded.updated_at
"""


def sqlite_path(dsn: str) -> Path | None:
    """The database file of a ``sqlite:///path`` DSN (``None`` for any other)."""
    return Path(dsn[len("sqlite:///"):]) if dsn.startswith("sqlite:///") else None


class Store:
    """A connection to the event database (thread-safe: one lock around it)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._lock = threading.RLock()
        if (path := sqlite_path(dsn)) is not None:
            self.dialect = "sqlite"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")  # each commit synced before the message is acknowledged
        elif dsn.startswith(("postgresql://", "postgres://")):
            import psycopg

            self.dialect = "postgres"
            self._conn = psycopg.connect(dsn, autocommit=True)
        else:
            raise ValueError(f"unsupported store DSN {dsn!r} (sqlite:///path or postgresql://...)")
        self._migrate()

    # -- plumbing -------------------------------------------------------
    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgres" else sql

    def _execute(self, sql: str, params: tuple = ()) -> Any:
        return self._conn.execute(self._sql(sql), params)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all."""
        with self._lock:
            if self.dialect == "sqlite":
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            else:
                with self._conn.transaction():
                    yield

    def _rows(self, sql: str, params: tuple = ()) -> list[dict]:
        with self._lock:
            cur = self._execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    def _migrate(self) -> None:
        with self.transaction():
            for statement in _SCHEMA:
                self._execute(statement)
            version = self._execute("SELECT version FROM schema_version").fetchone()
            if version is None:
                self._execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            elif version[0] > SCHEMA_VERSION:
                raise RuntimeError(f"database schema {version[0]} is newer than this gateway ({SCHEMA_VERSION})")
            self._add_new_ledger_columns()
            self._add_missing_columns("events", {"clip_sha": "TEXT", "clip_source_sha256": "TEXT"})
            # (the WHERE lets SQLite parse an upsert after a SELECT)
            self._execute(
                "INSERT INTO totals (name, value) SELECT 'stored_bytes', COALESCE(SUM(bytes), 0) FROM thumbnails "
                "WHERE 1 = 1 ON CONFLICT (name) DO NOTHING"
            )

    def _add_new_ledger_columns(self) -> None:
        """A store made before a Ledger field existed gets its column (zero for the hours already stored)."""
        self._add_missing_columns("ledger", {name: f"{_LEDGER_TYPES[field.annotation]} NOT NULL DEFAULT 0"
                                             for name, field in contract.Ledger.model_fields.items()})

    def _add_missing_columns(self, table: str, columns: dict[str, str]) -> None:
        """Add the ``columns`` (name: SQL type) a store made by an older gateway lacks."""
        have = {d[0] for d in self._execute(f"SELECT * FROM {table} WHERE 1 = 0").description}
        for name, sql_type in columns.items():
            if name not in have:
                logger.info("store: adding column %s.%s", table, name)
                self._execute(f"ALTER TABLE {table} ADD COLUMN {name} {sql_type}")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- writes ---------------------------------------------------------
    def touch_camera(self, camera: str, at: float, availability: str | None = None) -> None:
        self._execute(
            "INSERT INTO cameras (camera_id, first_seen, last_seen, availability) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (camera_id) DO UPDATE SET last_seen = CASE WHEN excluded.last_seen > cameras.last_seen "
            "THEN excluded.last_seen ELSE cameras.last_seen END, availability = COALESCE(excluded.availability, cameras.availability)",
            (camera, at, at, availability),
        )

    def upsert_event(self, msg: contract.EventMessage, received_at: float) -> None:
        state = {"new": "open", "update": "open", "end": "ended"}[msg.type]
        box = json.dumps(msg.box.model_dump()) if msg.box else None
        self._execute(
            _UPSERT_EVENT,
            (msg.camera, msg.event_id, msg.label, state, msg.seq, msg.start_time, msg.end_time, msg.score, box,
             json.dumps(msg.zones), msg.clip_bytes, received_at, received_at),
        )

    def end_orphaned_events(self, camera: str, new_event_id: str, at: float) -> int:
        """A node has one open event at a time: when it starts ``new_event_id``, an open event of the camera
        that came before it lost its ``end`` (node reboot without its SD journal). "Before": it started
        earlier on the node's clock, or it is from another boot (``<ms>-<camera>-<boot>`` ids; a reboot
        resets the clock) and reached the gateway first. An earlier event's ``new`` delivered late ends
        nothing. The orphan ends at its last news: its start plus the time the gateway kept hearing of it."""
        new = self._rows("SELECT start_time FROM events WHERE camera_id = ? AND event_id = ?", (camera, new_event_id))
        if not new or new[0]["start_time"] is None:
            return 0
        start, boot = new[0]["start_time"], _boot_of(new_event_id)
        ended = 0
        for row in self._rows(
            "SELECT event_id, start_time, received_at, updated_at FROM events "
            "WHERE camera_id = ? AND state = 'open' AND event_id <> ?", (camera, new_event_id)
        ):
            other_boot = boot is not None and _boot_of(row["event_id"]) not in (None, boot)
            if row["start_time"] < start or (other_boot and row["received_at"] <= at):
                ended += self._end_at_last_news(camera, row, at)
        return ended

    def end_events_of_lost_cameras(self, at: float, after: float) -> list[tuple[str, str]]:
        """End the open events of cameras offline (their last will published) and silent for ``after`` seconds at
        ``at``, at their last news: a node that never comes back leaves no event open for ever. One that does come
        back ends its event from its journal, and that ``end`` (a later seq) still lands. Returns (camera, event id)
        of each event ended."""
        ended = []
        with self.transaction():
            for row in self._rows(
                "SELECT e.camera_id, e.event_id, e.start_time, e.received_at, e.updated_at FROM events e "
                "JOIN cameras c ON c.camera_id = e.camera_id "
                "WHERE e.state = 'open' AND e.start_time IS NOT NULL AND c.availability = 'offline' AND c.last_seen <= ?",
                (at - after,),
            ):
                if self._end_at_last_news(row["camera_id"], row, at):
                    ended.append((row["camera_id"], row["event_id"]))
        return ended

    def _end_at_last_news(self, camera: str, row: dict, at: float) -> int:
        """End an open event at its last news: its start plus the time the gateway kept hearing of it."""
        last_news = row["start_time"] + max(0.0, row["updated_at"] - row["received_at"])
        return self._execute(
            "UPDATE events SET state = 'ended', end_time = COALESCE(end_time, ?), updated_at = ? "
            "WHERE camera_id = ? AND event_id = ? AND state = 'open'",
            (last_news, at, camera, row["event_id"]),
        ).rowcount

    def attach_thumbnail(self, camera: str, event_id: str, sha: str, nbytes: int, path: str, at: float) -> None:
        """Point the event (a pending row if its message has not arrived yet) at a stored thumbnail."""
        self._add_media_row(sha, nbytes, path, at)
        self._execute(
            "INSERT INTO events (camera_id, event_id, state, thumbnail_sha, received_at, updated_at) VALUES (?, ?, 'pending', ?, ?, ?) "
            "ON CONFLICT (camera_id, event_id) DO UPDATE SET thumbnail_sha = excluded.thumbnail_sha, updated_at = excluded.updated_at",
            (camera, event_id, sha, at, at),
        )

    def attach_clip(self, camera: str, event_id: str, sha: str, nbytes: int, path: str, source_sha256: str, at: float) -> bool:
        """Point an event at its stored clip (a media row, counted in the stored bytes like a thumbnail); False if
        the event is not stored (deleted meanwhile: the sweeper removes the unreferenced row and file)."""
        self._add_media_row(sha, nbytes, path, at)
        return self._execute(
            "UPDATE events SET clip_sha = ?, clip_source_sha256 = ?, updated_at = ? WHERE camera_id = ? AND event_id = ?",
            (sha, source_sha256, at, camera, event_id),
        ).rowcount == 1

    def _add_media_row(self, sha: str, nbytes: int, path: str, at: float) -> None:
        """A stored file's row (thumbnails and clips share the table), its bytes added to the running total once."""
        inserted = self._execute(
            "INSERT INTO thumbnails (sha256, bytes, path, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
            (sha, nbytes, path, at),
        ).rowcount
        if inserted == 1:
            self._execute("UPDATE totals SET value = value + ? WHERE name = 'stored_bytes'", (nbytes,))

    def add_stats(self, stats: contract.StatsMessage, at: float) -> None:
        """Add the ledger growth since the camera's previous stats to the hour bucket of ``at``.

        Call inside :meth:`transaction`. The camera's row is locked before its last ledger is read
        (``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises writers), so two
        gateways of one share group handed the same stats count the growth once."""
        self.touch_camera(stats.camera, at)
        lock = " FOR UPDATE" if self.dialect == "postgres" else ""
        row = self._rows(f"SELECT last_ledger FROM cameras WHERE camera_id = ?{lock}", (stats.camera,))
        previous = json.loads(row[0]["last_ledger"]) if row and row[0]["last_ledger"] else None
        current = stats.ledger.model_dump()
        if previous is None or any(current[k] < previous.get(k, 0) for k in contract.LEDGER_FIELDS):
            previous = {k: 0 for k in contract.LEDGER_FIELDS}  # first report, or the node restarted its counters
        delta = {k: current[k] - previous.get(k, 0) for k in contract.LEDGER_FIELDS}
        hour = int(at // 3600 * 3600)
        cols = ", ".join(contract.LEDGER_FIELDS)
        sets = ", ".join(f"{k} = ledger.{k} + excluded.{k}" for k in contract.LEDGER_FIELDS)
        self._execute(
            f"INSERT INTO ledger (camera_id, hour, {cols}) VALUES (?, ?, {', '.join('?' * len(contract.LEDGER_FIELDS))}) "
            f"ON CONFLICT (camera_id, hour) DO UPDATE SET {sets}",
            (stats.camera, hour, *(delta[k] for k in contract.LEDGER_FIELDS)),
        )
        self._execute(
            "UPDATE cameras SET last_ledger = ?, last_stats = ? WHERE camera_id = ?",
            (json.dumps(current), stats.model_dump_json(exclude={"ledger"}), stats.camera),
        )

    # -- reads ----------------------------------------------------------
    def events(self, camera: str | None = None, since: float | None = None, until: float | None = None,
               label: str | None = None, limit: int = 100, offset: int = 0) -> list[dict]:
        where, params = _event_filter(camera, since, until, label)
        rows = self._rows(
            f"SELECT * FROM events WHERE {where} ORDER BY start_time DESC, event_id LIMIT ? OFFSET ?", (*params, limit, offset),
        )
        return [_decode_event(r) for r in rows]

    def event(self, camera: str, event_id: str) -> dict | None:
        rows = self._rows("SELECT * FROM events WHERE camera_id = ? AND event_id = ?", (camera, event_id))
        return _decode_event(rows[0]) if rows else None

    def add_dead_letter(self, topic: str, payload: bytes, reason: str, at: float) -> None:
        """Keep a rejected message aside, raw; only the newest :data:`DEAD_LETTERS_KEPT` stay."""
        with self.transaction():
            self._execute("INSERT INTO dead_letters (received_at, topic, reason, payload) VALUES (?, ?, ?, ?)",
                          (at, topic[:512], reason, base64.b64encode(payload).decode()))
            self._execute(
                "DELETE FROM dead_letters WHERE received_at < (SELECT MIN(received_at) FROM "
                "(SELECT received_at FROM dead_letters ORDER BY received_at DESC LIMIT ?) AS newest)", (DEAD_LETTERS_KEPT,))

    def dead_letters(self, limit: int = DEAD_LETTERS_KEPT) -> list[dict]:
        """The kept-aside messages, newest first, payloads as bytes."""
        rows = self._rows("SELECT received_at, topic, reason, payload FROM dead_letters ORDER BY received_at DESC LIMIT ?", (limit,))
        return [{**r, "payload": base64.b64decode(r["payload"])} for r in rows]

    def has_open_event(self, camera: str) -> bool:
        """Is an event of ``camera`` open (someone in view, as far as the gateway knows)?"""
        return bool(self._rows("SELECT 1 AS one FROM events WHERE camera_id = ? AND state = 'open' LIMIT 1", (camera,)))

    def thumbnail(self, sha: str) -> dict | None:
        rows = self._rows("SELECT * FROM thumbnails WHERE sha256 = ?", (sha,))
        return rows[0] if rows else None

    def cameras(self) -> list[dict]:
        return self._rows("SELECT camera_id, first_seen, last_seen, availability, last_stats FROM cameras ORDER BY camera_id")

    def ledger(self, since: float | None = None, camera: str | None = None) -> list[dict]:
        where, params = ["1 = 1"], []
        if since is not None:
            where.append("hour >= ?")
            params.append(int(since // 3600 * 3600))
        if camera is not None:
            where.append("camera_id = ?")
            params.append(camera)
        return self._rows(f"SELECT * FROM ledger WHERE {' AND '.join(where)} ORDER BY hour, camera_id", tuple(params))

    def count_events(self, since: float | None = None, camera: str | None = None) -> int:
        """Stored events (pending ones aside), of one camera and from ``since`` if given."""
        where, params = _event_filter(camera, since)
        return int(self._rows(f"SELECT COUNT(*) AS n FROM events WHERE {where}", params)[0]["n"])

    def last_stats(self, camera: str) -> dict | None:
        """The camera's latest stats message (without its ledger), or ``None``."""
        rows = self._rows("SELECT last_stats FROM cameras WHERE camera_id = ?", (camera,))
        return json.loads(rows[0]["last_stats"]) if rows and rows[0]["last_stats"] else None

    def stored_bytes(self) -> int:
        """Bytes the gateway keeps on disk (thumbnails), from the database's running total."""
        return int(self._rows("SELECT value FROM totals WHERE name = 'stored_bytes'")[0]["value"])

    def count(self, table: str) -> int:
        if table not in ("events", "thumbnails", "cameras", "ledger"):
            raise ValueError(table)
        return int(self._rows(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"])

    # -- retention --------------------------------------------------------
    def oldest_thumbnails(self, limit: int) -> list[dict]:
        """Stored thumbnails whose newest event is oldest first (deleting a thumbnail takes every event that
        shows it): ``sha256``, ``path``, ``bytes``."""
        return self._rows(
            "SELECT t.sha256, t.path, t.bytes FROM thumbnails t JOIN events e ON e.thumbnail_sha = t.sha256 OR e.clip_sha = t.sha256 "
            "GROUP BY t.sha256, t.path, t.bytes ORDER BY MAX(e.received_at) LIMIT ?", (limit,)
        )

    def delete_thumbnail_and_events(self, sha: str, nbytes: int) -> int:
        """Delete a media row (a thumbnail or a clip) and every event that shows it (call inside :meth:`transaction`);
        returns the events."""
        events = self._execute("DELETE FROM events WHERE thumbnail_sha = ? OR clip_sha = ?", (sha, sha)).rowcount
        self.delete_thumbnail_row(sha, nbytes)
        return events

    def expired_events(self, camera: str | None, before: float, limit: int = 1000) -> list[dict]:
        where = "received_at < ?"
        params: tuple = (before,)
        if camera is not None:
            where += " AND camera_id = ?"
            params += (camera,)
        return self._rows(f"SELECT camera_id, event_id, thumbnail_sha FROM events WHERE {where} LIMIT ?", (*params, limit))

    def camera_ids(self) -> list[str]:
        return [r["camera_id"] for r in self._rows("SELECT camera_id FROM cameras")]

    def delete_event(self, camera: str, event_id: str) -> None:
        self._execute("DELETE FROM events WHERE camera_id = ? AND event_id = ?", (camera, event_id))

    def unreferenced_thumbnails(self) -> list[dict]:
        return self._rows(
            "SELECT sha256, path, bytes FROM thumbnails t WHERE NOT EXISTS "
            "(SELECT 1 FROM events e WHERE e.thumbnail_sha = t.sha256 OR e.clip_sha = t.sha256)"
        )

    def delete_thumbnail_row(self, sha: str, nbytes: int) -> None:
        if self._execute("DELETE FROM thumbnails WHERE sha256 = ?", (sha,)).rowcount == 1:
            self._execute("UPDATE totals SET value = value - ? WHERE name = 'stored_bytes'", (nbytes,))

    def thumbnail_paths(self) -> set[str]:
        return {r["path"] for r in self._rows("SELECT path FROM thumbnails")}


def _event_filter(camera: str | None = None, since: float | None = None, until: float | None = None,
                  label: str | None = None) -> tuple[str, tuple]:
    """The WHERE clause and parameters selecting stored events (pending ones aside) by the filters given."""
    where, params = ["state <> 'pending'"], []
    for clause, value in (("camera_id = ?", camera), ("start_time >= ?", since), ("start_time < ?", until), ("label = ?", label)):
        if value is not None:
            where.append(clause)
            params.append(value)
    return " AND ".join(where), tuple(params)


def _decode_event(row: dict) -> dict:
    row = dict(row)
    for key in ("box", "zones"):
        if row.get(key):
            row[key] = json.loads(row[key])
    return row


def _boot_of(event_id: str) -> str | None:
    """The boot part of a node's ``<ms>-<camera>-<boot>`` event id (None for ids of another form)."""
    parts = event_id.split("-")
    return parts[-1] if len(parts) >= 3 and parts[0].isdigit() else None

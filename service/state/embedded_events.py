"""The event index of the embedded store: SQLite tables and the synchronous find-or-add behind it.

The same model as the Redis store: an event row (its record as JSON, its logical expiry); an item key
points at the event it joined, so a repeated call answers the same; an index key (a lead anchor in a
time bucket, or a text band) lists the events filed under it, newest first, read `POSTINGS` at a time.
The caller runs these functions in its worker thread under its lock, which makes find-then-add atomic.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from service.events.link import POSTINGS, EventRecord, rank
from service.state.event_index import EventRequest, known_event, plan
from service.state.protocol import EventMatch

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY, record TEXT NOT NULL, expires REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_expires ON events (expires);
CREATE TABLE IF NOT EXISTS event_item (
    item TEXT PRIMARY KEY, event TEXT NOT NULL, expires REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS event_item_expires ON event_item (expires);
CREATE TABLE IF NOT EXISTS event_key (
    seq INTEGER PRIMARY KEY, key TEXT NOT NULL, event TEXT NOT NULL, expires REAL NOT NULL,
    UNIQUE (key, event)
);
CREATE INDEX IF NOT EXISTS event_key_postings ON event_key (key, seq);
CREATE INDEX IF NOT EXISTS event_key_expires ON event_key (expires);
DROP TABLE IF EXISTS stories;
DROP TABLE IF EXISTS story_band;
DROP TABLE IF EXISTS story_item;
"""


def find_or_add_event(db: sqlite3.Connection, req: EventRequest) -> EventMatch:
    """Run inside the caller's transaction (so a bulk loader can put many in one)."""
    row = db.execute("SELECT event FROM event_item WHERE item = ? AND expires > ?", (req.item_key, req.now))
    pointer = row.fetchone()
    pointed = _records(db, [str(pointer[0])], req.now) if pointer else []
    own = _records(db, [req.own_id], req.now)
    known = known_event(req, pointed[0] if pointed else None, own[0] if own else None)
    if known is not None:
        return known.match
    postings = [_postings(db, key, req.now) for key in req.report.lookup_keys()]
    decided = plan(req, _records(db, rank(postings), req.now))
    record = decided.record
    assert record is not None
    expires = req.now + req.ttl
    db.execute("INSERT OR REPLACE INTO events VALUES (?, ?, ?)", (record.id, record.encode(), record.expires))
    db.execute("INSERT OR REPLACE INTO event_item VALUES (?, ?, ?)", (req.item_key, record.id, expires))
    db.executemany(
        "INSERT OR REPLACE INTO event_key (key, event, expires) VALUES (?, ?, ?)",
        [(key, record.id, expires) for key in decided.index],
    )
    return decided.match


def purge_events(db: sqlite3.Connection, now: float) -> None:
    for table in ("events", "event_item", "event_key"):
        db.execute(f"DELETE FROM {table} WHERE expires <= ?", (now,))


def _postings(db: sqlite3.Connection, key: str, now: float) -> list[str]:
    rows = db.execute(
        "SELECT event FROM event_key WHERE key = ? AND expires > ? ORDER BY seq DESC LIMIT ?",
        (key, now, POSTINGS),
    )
    return [str(r[0]) for r in rows]


def _records(db: sqlite3.Connection, ids: Sequence[str], now: float) -> list[EventRecord]:
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = dict(
        db.execute(f"SELECT id, record FROM events WHERE id IN ({marks}) AND expires > ?", (*ids, now))
    )
    return [EventRecord.decode(rows[i]) for i in ids if i in rows]

"""The story index of the embedded store: SQLite tables and the synchronous find-or-add behind it.

The same model as the Redis store: a story row (signature, outlets, expiry); an item key points at the
story it joined, so a repeated call answers the same; a band key points at one story, the first live
one to claim it, and a story renews the bands it holds whenever a copy joins. A story lives
`story_ttl` seconds after its latest copy. The caller runs these functions in its worker thread under
its lock, which is what makes a find-then-add atomic.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass

from service.state.fingerprint import (
    MAX_CANDIDATES,
    STORY_THRESHOLD,
    Fingerprint,
    pack_signature,
    signature_similarity,
    story_id_for,
    unpack_signature,
)
from service.state.protocol import StoryMatch

# Band keys are stored as signed 64-bit integers, the rowid itself: the smallest row and one B-tree.
SCHEMA = """
CREATE TABLE IF NOT EXISTS stories (
    id TEXT PRIMARY KEY, signature BLOB NOT NULL, outlets TEXT NOT NULL, expires REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS stories_expires ON stories (expires);
CREATE TABLE IF NOT EXISTS story_band (band INTEGER PRIMARY KEY, story TEXT NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS story_band_expires ON story_band (expires);
CREATE TABLE IF NOT EXISTS story_item (
    item TEXT PRIMARY KEY, story TEXT NOT NULL, expires REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS story_item_expires ON story_item (expires);
"""
_SEP = "\x1f"


@dataclass(frozen=True, slots=True)
class StoryRequest:
    item_key: str
    fp: Fingerprint | None
    outlet: str
    now: float
    ttl: float


def find_or_add_story(db: sqlite3.Connection, req: StoryRequest) -> StoryMatch:
    """Run inside the caller's transaction (so a bulk loader can put many in one)."""
    own = story_id_for(req.item_key)
    bands = [] if req.fp is None else [_band_number(b) for b in req.fp.bands]
    holders = _band_holders(db, bands, req.now)
    story = _story_of_item(db, req, own) or _similar_story(db, req, holders)
    if story is None:
        story, outlets = own, [req.outlet]
        db.execute(
            "INSERT OR REPLACE INTO stories VALUES (?, ?, ?, ?)",
            (own, pack_signature(req.fp.signature) if req.fp else b"", req.outlet, req.now + req.ttl),
        )
    else:
        outlets = _join(db, story, req)
    _point_at(db, story, req, bands, holders)
    return StoryMatch(story, story == own, tuple(outlets))


def purge_stories(db: sqlite3.Connection, now: float) -> None:
    for table in ("stories", "story_band", "story_item"):
        db.execute(f"DELETE FROM {table} WHERE expires <= ?", (now,))


def _band_number(band: str) -> int:
    return int(band, 16) - 2**63


def _band_holders(db: sqlite3.Connection, bands: list[int], now: float) -> dict[int, str]:
    """The live story holding each band (a band whose story is gone counts as free)."""
    if not bands:
        return {}
    sql = (
        "SELECT b.band, b.story FROM story_band b JOIN stories s ON s.id = b.story "
        f"WHERE b.band IN ({','.join('?' * len(bands))}) AND b.expires > ? AND s.expires > ?"
    )
    return {band: str(story) for band, story in db.execute(sql, (*bands, now, now))}


def _story_of_item(db: sqlite3.Connection, req: StoryRequest, own: str) -> str | None:
    """The live story this item joined before, or the live story it started itself."""
    row = db.execute(
        "SELECT s.id, 0 AS rank FROM story_item i JOIN stories s ON s.id = i.story "
        "WHERE i.item = ? AND i.expires > ? AND s.expires > ? "
        "UNION ALL SELECT id, 1 FROM stories WHERE id = ? AND expires > ? ORDER BY rank LIMIT 1",
        (req.item_key, req.now, req.now, own, req.now),
    ).fetchone()
    return None if row is None else str(row[0])


def _similar_story(db: sqlite3.Connection, req: StoryRequest, holders: dict[int, str]) -> str | None:
    """Among the stories holding the most of this text's bands, the most similar one, if enough."""
    if req.fp is None or not holders:
        return None
    votes = Counter(holders.values())
    ranked = sorted(votes, key=lambda story: (-votes[story], story))[:MAX_CANDIDATES]
    marks = ",".join("?" * len(ranked))
    rows = dict(db.execute(f"SELECT id, signature FROM stories WHERE id IN ({marks})", ranked).fetchall())
    scored = [(signature_similarity(req.fp.signature, unpack_signature(rows[s])), s) for s in ranked]
    # max() keeps the first of equal scores: the candidate holding the most bands, as in Redis.
    score, story = max(scored, key=lambda pair: pair[0])
    return story if score >= STORY_THRESHOLD else None


def _join(db: sqlite3.Connection, story: str, req: StoryRequest) -> list[str]:
    row = db.execute("SELECT outlets FROM stories WHERE id = ?", (story,)).fetchone()
    outlets = str(row[0]).split(_SEP)
    if req.outlet not in outlets:
        outlets.append(req.outlet)
    db.execute(
        "UPDATE stories SET outlets = ?, expires = ? WHERE id = ?",
        (_SEP.join(outlets), req.now + req.ttl, story),
    )
    return outlets


def _point_at(
    db: sqlite3.Connection, story: str, req: StoryRequest, bands: list[int], holders: dict[int, str]
) -> None:
    """This item and the bands that are free or already the story's lead to `story` from now on."""
    expires = req.now + req.ttl
    db.execute("INSERT OR REPLACE INTO story_item VALUES (?, ?, ?)", (req.item_key, story, expires))
    rows = [(band, story, expires) for band in bands if holders.get(band, story) == story]
    db.executemany("INSERT OR REPLACE INTO story_band VALUES (?, ?, ?)", rows)

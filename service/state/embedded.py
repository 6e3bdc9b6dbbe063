"""The embedded store: SQLite in WAL mode under a directory (default `./newsalert-state/`).

One process owns a directory at a time: an exclusive `flock` on `lock` refuses a second one with a clear
message instead of two workers alerting twice. SQLite calls run in a worker thread so a slow disk never
stalls the event loop; one lock serialises them on the single connection.

Delivery claims live in memory: the process owning the directory is the only one that can hold any,
and a crash that loses them also ends every send they covered. They keep the store contract (tokens,
expiry, owners) all the same.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from service.errors import StoreError, StoreLockedError
from service.events.link import Report
from service.models import Alert, FeedState, Outlet
from service.registry import StoreSettings, StoreType
from service.state import embedded_events
from service.state.codec import decode_alert, decode_feed_state, encode_alert, encode_feed_state
from service.state.event_index import EventRequest
from service.state.protocol import (
    Ack,
    Delivery,
    DeliveryStatus,
    EventMatch,
    ScheduleGlance,
    parse_slot,
    slot_name,
)

T = TypeVar("T")
SCHEMA_VERSION = 4
PURGE_EVERY = 60.0  # seconds of `now` between sweeps of expired events, and of settled alerts
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feeds (name TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seen (
    feed TEXT NOT NULL, item TEXT NOT NULL, expires REAL NOT NULL, PRIMARY KEY (feed, item)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_expires ON seen (expires);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY, watchlist TEXT NOT NULL, created REAL NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_created ON alerts (created);
CREATE TABLE IF NOT EXISTS deliveries (
    alert TEXT NOT NULL, sink TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL, last_error TEXT, updated REAL NOT NULL, PRIMARY KEY (alert, sink)
);
CREATE TABLE IF NOT EXISTS receipts (
    alert TEXT NOT NULL, sink TEXT NOT NULL, receipt TEXT NOT NULL, PRIMARY KEY (alert, sink)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_attempt);
CREATE TABLE IF NOT EXISTS schedule (feed TEXT PRIMARY KEY, due REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS schedule_due ON schedule (due);
CREATE TABLE IF NOT EXISTS leases (
    feed TEXT PRIMARY KEY, owner TEXT, token INTEGER NOT NULL, expires REAL NOT NULL
) WITHOUT ROWID;
"""
# A newer version's marker is never lowered by an older one opening the same directory.
_MARK_SCHEMA = (
    "INSERT INTO meta VALUES ('schema', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value "
    "WHERE CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER)"
)
# What a sink's send returned, by delivery: a table of its own, so that a directory stays readable by
# the versions before it.
_RECEIPT = "LEFT JOIN receipts r ON r.alert = d.alert AND r.sink = d.sink"
# A delivery as `_delivery` reads it, with its alert and receipt; queries add the alert id, WHERE and ORDER.
_DELIVERY_ROWS = (
    "SELECT d.sink, d.status, d.attempts, d.next_attempt, d.last_error, a.body, r.receipt{extra} "
    f"FROM deliveries d JOIN alerts a ON a.id = d.alert {_RECEIPT} "
)


@dataclass(frozen=True, slots=True)
class _Claim:
    owner: str
    token: int
    until: float  # time.monotonic()


class EmbeddedStore:
    def __init__(
        self, directory: str | Path, *, seen_ttl: float = 30 * 86400.0, story_ttl: float = 3 * 86400.0
    ) -> None:
        self.directory = Path(directory)
        self.seen_ttl = seen_ttl
        self.story_ttl = story_ttl
        self._purged = float("-inf")
        self._alerts_pruned = float("-inf")
        self._db: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._mutex = threading.Lock()
        self._claims: dict[tuple[str, str], _Claim] = {}
        # The latest spent claims and what they were spent on, oldest first.
        self._acked: dict[tuple[str, str], tuple[int, str]] = {}
        # (alert, slot) of claimed deliveries whose alert gained outlets after the claim read it.
        self._renote: set[tuple[str, str]] = set()
        self._last_token = 0

    def __repr__(self) -> str:
        return f"EmbeddedStore({str(self.directory)!r})"

    async def open(self) -> None:
        await asyncio.to_thread(self._open_sync)

    def _open_sync(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the state directory {self.directory}: {exc.strerror}") from exc
        self._lock_fd = _acquire_lock(self.directory / "lock")
        try:
            db = sqlite3.connect(self.directory / "newsalert.sqlite3", check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA + embedded_events.SCHEMA)
            db.execute(_MARK_SCHEMA, (str(SCHEMA_VERSION),))
            db.commit()
        except sqlite3.Error as exc:
            self._release_lock()
            raise StoreError(f"cannot open the embedded store in {self.directory}: {exc}") from exc
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            await self._run(lambda db: db.close())
            self._db = None
        self._release_lock()

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        db = self._db
        if db is None:
            raise StoreError("the embedded store is not open")

        def locked() -> T:
            with self._mutex:
                try:
                    return work(db)
                except sqlite3.Error as exc:
                    raise StoreError(f"embedded store: {exc}") from exc

        return await asyncio.to_thread(locked)

    async def ping(self) -> None:
        await self._run(lambda db: db.execute("SELECT 1").fetchone())

    # -- feeds ------------------------------------------------------------------------------------

    async def get_feed_state(self, feed: str) -> FeedState | None:
        row = await self._run(
            lambda db: db.execute("SELECT state FROM feeds WHERE name=?", (feed,)).fetchone()
        )
        return None if row is None else decode_feed_state(row[0])

    async def put_feed_state(self, state: FeedState) -> None:
        text = encode_feed_state(state)

        def write(db: sqlite3.Connection) -> None:
            with db:
                db.execute("INSERT OR REPLACE INTO feeds VALUES (?, ?)", (state.name, text))

        await self._run(write)

    async def put_feed_state_fenced(self, state: FeedState, token: int) -> bool:
        text = encode_feed_state(state)

        def write(db: sqlite3.Connection) -> bool:
            with db:
                row = db.execute("SELECT token FROM leases WHERE feed=?", (state.name,)).fetchone()
                if row is not None and row[0] > token:
                    return False
                db.execute("INSERT OR REPLACE INTO feeds VALUES (?, ?)", (state.name, text))
                return True

        return await self._run(write)

    async def all_feed_states(self) -> list[FeedState]:
        rows = await self._run(lambda db: db.execute("SELECT state FROM feeds ORDER BY name").fetchall())
        return [decode_feed_state(r[0]) for r in rows]

    # -- seen items -------------------------------------------------------------------------------

    async def unseen_items(self, feed: str, ids: Sequence[str], now: datetime) -> list[str]:
        wanted = list(dict.fromkeys(ids))
        stamp = now.timestamp()

        def query(db: sqlite3.Connection) -> set[str]:
            known: set[str] = set()
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT item FROM seen WHERE feed=? AND expires>? AND item IN ({marks})"
                known.update(r[0] for r in db.execute(sql, (feed, stamp, *chunk)))
            return known

        known = await self._run(query)
        return [i for i in wanted if i not in known]

    async def remember_items(self, feed: str, ids: Sequence[str], now: datetime) -> None:
        expires = now.timestamp() + self.seen_ttl
        rows = [(feed, i, expires) for i in dict.fromkeys(ids)]

        def write(db: sqlite3.Connection) -> None:
            with db:
                db.executemany("INSERT OR REPLACE INTO seen VALUES (?, ?, ?)", rows)
                db.execute("DELETE FROM seen WHERE expires<=?", (now.timestamp(),))

        await self._run(write)

    # -- events -----------------------------------------------------------------------------------

    async def find_or_add_event(
        self, item_key: str, report: Report, outlet: Outlet, now: datetime
    ) -> EventMatch:
        request = EventRequest(item_key, report, outlet, now.timestamp(), self.story_ttl)

        def work(db: sqlite3.Connection) -> EventMatch:
            with db:
                if request.now - self._purged >= PURGE_EVERY:
                    embedded_events.purge_events(db, request.now)
                    self._purged = request.now
                return embedded_events.find_or_add_event(db, request)

        return await self._run(work)

    # -- schedule and leases: one process owns the directory, so these only keep the contract -----

    async def schedule_feed(self, feed: str, at: datetime, *, if_absent: bool = False) -> None:
        verb = "INSERT OR IGNORE" if if_absent else "INSERT OR REPLACE"
        await self._write(f"{verb} INTO schedule VALUES (?, ?)", (feed, at.timestamp()))

    async def schedule_feeds(self, due: Mapping[str, datetime], *, if_absent: bool = False) -> None:
        verb = "INSERT OR IGNORE" if if_absent else "INSERT OR REPLACE"
        rows = [(name, at.timestamp()) for name, at in due.items()]

        def write(db: sqlite3.Connection) -> None:
            with db:
                db.executemany(f"{verb} INTO schedule VALUES (?, ?)", rows)

        await self._run(write)

    async def unschedule_feed(self, feed: str) -> None:
        await self._write("DELETE FROM schedule WHERE feed=?", (feed,))

    async def due_feeds(self, now: datetime, limit: int) -> list[str]:
        sql = "SELECT feed FROM schedule WHERE due<=? ORDER BY due, feed LIMIT ?"
        rows = await self._run(lambda db: db.execute(sql, (now.timestamp(), limit)).fetchall())
        return [str(r[0]) for r in rows]

    async def glance(self, now: datetime, limit: int, *, count_all: bool = False) -> ScheduleGlance:
        stamp = now.timestamp()

        def read(db: sqlite3.Connection) -> ScheduleGlance:
            due = db.execute(
                "SELECT feed, due FROM schedule WHERE due<=? ORDER BY due, feed LIMIT ?", (stamp, limit)
            ).fetchall()
            count = db.execute("SELECT count(*) FROM schedule WHERE due<=?", (stamp,)).fetchone()[0]
            later = db.execute("SELECT min(due) FROM schedule WHERE due>?", (stamp,)).fetchone()[0]
            total = db.execute("SELECT count(*) FROM schedule").fetchone()[0] if count_all else None
            return ScheduleGlance(
                [(str(f), _at(d)) for f, d in due], int(count), None if later is None else _at(later), total
            )

        return await self._run(read)

    async def acquire_lease(self, feed: str, owner: str, ttl: float, now: datetime) -> int | None:
        stamp = now.timestamp()

        def write(db: sqlite3.Connection) -> int | None:
            with db:
                row = db.execute("SELECT owner, token, expires FROM leases WHERE feed=?", (feed,)).fetchone()
                if row is not None and row[0] not in (None, owner) and row[2] > stamp:
                    return None
                token = 1 if row is None else int(row[1]) + 1
                db.execute(
                    "INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?)", (feed, owner, token, stamp + ttl)
                )
                return token

        return await self._run(write)

    async def renew_lease(self, feed: str, owner: str, token: int, ttl: float, now: datetime) -> bool:
        stamp = now.timestamp()
        sql = "UPDATE leases SET expires=? WHERE feed=? AND owner=? AND token=? AND expires>?"
        return await self._write(sql, (stamp + ttl, feed, owner, token, stamp)) > 0

    async def release_lease(self, feed: str, owner: str, token: int) -> None:
        # The row (and its token) stays: the next lease must still get a larger token.
        sql = "UPDATE leases SET owner=NULL, expires=0 WHERE feed=? AND owner=? AND token=?"
        await self._write(sql, (feed, owner, token))

    async def _write(self, sql: str, args: tuple[Any, ...]) -> int:
        def write(db: sqlite3.Connection) -> int:
            with db:
                return db.execute(sql, args).rowcount

        return await self._run(write)

    # -- outbox -----------------------------------------------------------------------------------

    async def enqueue_alert(self, alert: Alert, sinks: Sequence[str], now: datetime) -> bool:
        body, stamp = encode_alert(alert), now.timestamp()

        def write(db: sqlite3.Connection) -> bool:
            with db:
                if stamp - self._alerts_pruned >= PURGE_EVERY:
                    _prune_alerts(db, stamp - self.seen_ttl)
                    self._alerts_pruned = stamp
                cur = db.execute(
                    "INSERT OR IGNORE INTO alerts VALUES (?, ?, ?, ?)",
                    (alert.id, alert.watchlist, stamp, body),
                )
                if cur.rowcount == 0:
                    return False
                db.executemany(
                    "INSERT OR IGNORE INTO deliveries (alert, sink, status, attempts, next_attempt, updated) "
                    "VALUES (?, ?, 'pending', 0, ?, ?)",
                    [(alert.id, sink, stamp, stamp) for sink in dict.fromkeys(sinks)],
                )
                return True

        return await self._run(write)

    async def deliveries(self, status: DeliveryStatus | None = None, limit: int = 1000) -> list[Delivery]:
        sql = _DELIVERY_ROWS.format(extra="") + "WHERE (? IS NULL OR d.status=?) ORDER BY a.created LIMIT ?"
        value = None if status is None else status.value
        rows = await self._run(lambda db: db.execute(sql, (value, value, limit)).fetchall())
        return [_delivery(r) for r in rows]

    async def outbox_depth(self) -> int:
        sql = "SELECT COUNT(*) FROM deliveries WHERE status='pending'"
        row = await self._run(lambda db: db.execute(sql).fetchone())
        return int(row[0]) if row else 0

    async def claim_due(
        self, now: datetime, owner: str, ttl: float, limit: int = 100, *, skip_sinks: Collection[str] = ()
    ) -> list[Delivery]:
        skip = [slot_name(s, edit) for s in dict.fromkeys(skip_sinks) for edit in (False, True)]
        sql = (
            _DELIVERY_ROWS.format(extra=", d.alert")
            + f"WHERE d.status='pending' AND d.next_attempt<=? AND d.sink NOT IN ({','.join('?' * len(skip))}) "
            "ORDER BY d.next_attempt, a.created LIMIT ?"
        )

        def claim(db: sqlite3.Connection) -> list[Delivery]:
            clock = time.monotonic()
            held = sum(1 for c in self._claims.values() if c.owner != owner and c.until > clock)
            out: list[Delivery] = []
            for row in db.execute(sql, (now.timestamp(), *skip, limit + held)).fetchall():
                key = (row[7], row[0])
                current = self._claims.get(key)
                if current is not None and current.owner != owner and current.until > clock:
                    continue
                self._last_token += 1
                self._claims[key] = _Claim(owner, self._last_token, clock + ttl)
                self._renote.discard(key)  # this claim reads the alert as it stands now
                out.append(_delivery(row[:7], claim=self._last_token))
                if len(out) >= limit:
                    break
            return out

        return await self._run(claim) if limit > 0 else []

    async def ack_deliveries(self, acks: Sequence[Ack]) -> list[bool]:
        def write(db: sqlite3.Connection) -> list[bool]:
            applied: list[bool] = []
            spent: dict[tuple[str, str], tuple[int, str]] = {}
            with db:
                for ack in acks:
                    key = (ack.alert_id, ack.slot)
                    outcome = (ack.token, ack.outcome)
                    current = self._claims.get(key)
                    if key in spent or current is None or current.token != ack.token:
                        # The same ack again (in this batch, or retried) reads as applied.
                        applied.append(spent.get(key, self._acked.get(key)) == outcome)
                        continue
                    spent[key] = outcome  # whether or not the row still moves
                    if ack.releases:
                        applied.append(True)
                        continue
                    moved = _apply_ack(db, ack)
                    applied.append(moved)
                    if key in self._renote and moved and ack.status is DeliveryStatus.DELIVERED:
                        # The alert gained outlets while this went out: what was sent lacks them.
                        at = (ack.at or datetime.now(UTC)).timestamp()
                        self._ensure_edit(db, ack.alert_id, ack.sink, at)
            # Only once the transaction committed are the claims spent: a failed write leaves them,
            # so the same outcomes can be written again instead of being refused as stale.
            for key, outcome in spent.items():
                self._claims.pop(key, None)
                self._renote.discard(key)
                self._acked[key] = outcome
            while len(self._acked) > _ACKED_KEPT:  # only a retry soon after needs them
                del self._acked[next(iter(self._acked))]
            return applied

        return await self._run(write)

    async def note_outlets(
        self, alert_id: str, sinks: Sequence[str], outlets: Sequence[Outlet], now: datetime
    ) -> list[str]:
        stamp = now.timestamp()

        def write(db: sqlite3.Connection) -> list[str]:
            with db:
                row = db.execute("SELECT body FROM alerts WHERE id=?", (alert_id,)).fetchone()
                if row is None:
                    return []
                alert = decode_alert(row[0])
                named = {alert.item.feed, *(o.feed for o in alert.also_reported_by)}
                added = tuple({o.feed: o for o in outlets if o.feed not in named}.values())
                if not added:
                    return []
                body = encode_alert(replace(alert, also_reported_by=(*alert.also_reported_by, *added)))
                db.execute("UPDATE alerts SET body=? WHERE id=?", (body, alert_id))
                edits: set[str] = set()
                rows = db.execute(
                    f"SELECT d.sink, d.status, r.receipt FROM deliveries d {_RECEIPT} WHERE d.alert=?",
                    (alert_id,),
                ).fetchall()
                wanted = set(sinks)
                for slot, status, receipt in rows:
                    sink, edit = parse_slot(slot)
                    if edit or sink not in wanted:
                        continue
                    if status == "pending":
                        self._note_in_flight(alert_id, slot)
                    elif status == "delivered" and receipt and self._ensure_edit(db, alert_id, sink, stamp):
                        edits.add(sink)
                return [s for s in dict.fromkeys(sinks) if s in edits]

        return await self._run(write)

    def _note_in_flight(self, alert_id: str, slot: str) -> None:
        """A claimed delivery may be going out with the alert as its claim read it: if that claim ends
        delivered, an edit follows (a later claim reads the alert anew and clears the mark)."""
        if (alert_id, slot) in self._claims:
            self._renote.add((alert_id, slot))

    def _ensure_edit(self, db: sqlite3.Connection, alert_id: str, sink: str, stamp: float) -> bool:
        """Make one edit of the delivered (alert, sink) due; False when there is nothing to edit."""
        base = db.execute(
            f"SELECT d.status, r.receipt FROM deliveries d {_RECEIPT} WHERE d.alert=? AND d.sink=?",
            (alert_id, sink),
        ).fetchone()
        if base is None or base[0] != "delivered" or not base[1]:
            return False
        slot = slot_name(sink, True)
        row = db.execute(
            "SELECT status FROM deliveries WHERE alert=? AND sink=?", (alert_id, slot)
        ).fetchone()
        if row is None or row[0] == "delivered":
            db.execute(
                "INSERT OR REPLACE INTO deliveries (alert, sink, status, attempts, next_attempt, updated) "
                "VALUES (?, ?, 'pending', 0, ?, ?)",
                (alert_id, slot, stamp, stamp),
            )
            db.execute("INSERT OR REPLACE INTO receipts VALUES (?, ?, ?)", (alert_id, slot, base[1]))
            return True
        if row[0] == "pending":
            self._note_in_flight(alert_id, slot)
            return True
        return False  # parked: the message cannot be edited


def _acquire_lock(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreLockedError(
            f"the state directory {path.parent} is in use by another newsalert process; "
            "stop it, or give this one its own directory (service.store), or share a Redis store"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


# Alerts created before a cutoff with nothing left to send (every delivery delivered or parked).
_SETTLED = (
    "SELECT id FROM alerts WHERE created <= ? AND NOT EXISTS "
    "(SELECT 1 FROM deliveries d WHERE d.alert = alerts.id AND d.status = 'pending')"
)


def _prune_alerts(db: sqlite3.Connection, cutoff: float) -> None:
    """Forget alerts settled and older than `seen_ttl`, as Redis lets them expire.

    An alert still owed to a sink stays however old it is. Its deliveries, receipts and its place in
    the alert ledger go with it: the items behind it are forgotten by then too (`seen_ttl`).
    """
    for table in ("receipts", "deliveries"):
        db.execute(f"DELETE FROM {table} WHERE alert IN ({_SETTLED})", (cutoff,))
    db.execute(f"DELETE FROM alerts WHERE id IN ({_SETTLED})", (cutoff,))


_ACKED_KEPT = 10_000


def _apply_ack(db: sqlite3.Connection, ack: Ack) -> bool:
    """Move a pending row as `ack` says; False when it is no longer pending."""
    where = "updated=? WHERE alert=? AND sink=? AND status='pending'"
    at = (ack.at or datetime.now(UTC)).timestamp()
    args: tuple[Any, ...]
    if ack.status is DeliveryStatus.PENDING:
        sets, args = "attempts=attempts+1, next_attempt=?, last_error=?", (at, ack.error, time.time())
    elif ack.status is DeliveryStatus.PARKED:
        sets, args = "status='parked', attempts=attempts+1, last_error=?", (ack.error, at)
    else:
        sets, args = "status='delivered', attempts=attempts+1", (at,)
    moved = db.execute(f"UPDATE deliveries SET {sets}, {where}", (*args, ack.alert_id, ack.slot)).rowcount > 0
    if moved and ack.status is DeliveryStatus.DELIVERED and ack.receipt is not None:
        db.execute("INSERT OR REPLACE INTO receipts VALUES (?, ?, ?)", (ack.alert_id, ack.slot, ack.receipt))
    return moved


def _delivery(row: tuple[Any, ...], claim: int = 0) -> Delivery:
    slot, status, attempts, next_attempt, last_error, body, receipt = row
    sink, edit = parse_slot(slot)
    return Delivery(
        alert=decode_alert(body),
        sink=sink,
        status=DeliveryStatus(status),
        attempts=attempts,
        next_attempt=datetime.fromtimestamp(next_attempt, UTC),
        last_error=last_error,
        claim=claim,
        receipt=receipt,
        edit=edit,
    )


# Where the embedded store lives when `service.store` is not set: beside the working directory.
DEFAULT_DIRECTORY = "./newsalert-state"


def _build(directory: str, settings: StoreSettings) -> EmbeddedStore:
    return EmbeddedStore(directory or DEFAULT_DIRECTORY, seen_ttl=settings.seen_ttl)


STORE = StoreType(
    "embedded",
    schemes=(),
    build=_build,
    describe=lambda directory: f"embedded ({directory or DEFAULT_DIRECTORY})",
)


def _at(stamp: float) -> datetime:
    return datetime.fromtimestamp(float(stamp), UTC)

"""What only the embedded store does: sweeping expired events out of its file."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from service.events.anchors import Anchors
from service.events.link import Report
from service.models import Item, Outlet
from service.state.embedded import PURGE_EVERY, EmbeddedStore
from tests.events.corpus import report_for
from tests.state.conftest import FIXTURES

NOW = datetime(2021, 6, 10, 8, 0, tzinfo=UTC)


def count_rows(path: Path, table: str) -> int:
    with sqlite3.connect(path / "newsalert.sqlite3") as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


async def test_expired_events_are_swept_out_of_the_file(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path, story_ttl=10)
    await store.open()
    try:
        text = (FIXTURES / "airport-attack-a.txt").read_text(encoding="utf-8")
        attack = report_for(Item(id="a", feed="a", content=text, published=NOW, language="ar"))
        await store.find_or_add_event("a\x1f1", attack, Outlet("a"), NOW)
        assert count_rows(tmp_path, "event_key") > 0
        bare = Report(NOW.timestamp(), Anchors(*(frozenset[str](),) * 6, followup=False))
        await store.find_or_add_event("b\x1f1", bare, Outlet("b"), NOW + timedelta(seconds=PURGE_EVERY + 11))
        assert count_rows(tmp_path, "events") == 1
        assert count_rows(tmp_path, "event_key") == 0
        assert count_rows(tmp_path, "event_item") == 1
    finally:
        await store.close()


async def test_settled_alerts_older_than_seen_ttl_leave_the_file_and_owed_ones_stay(tmp_path: Path) -> None:
    """Redis lets alerts and deliveries expire after seen_ttl; the embedded store sweeps settled ones."""
    from service.state.protocol import Ack, DeliveryStatus
    from tests.state.test_protocol import make_alert

    store = EmbeddedStore(tmp_path, seen_ttl=3600)
    await store.open()
    try:
        for name in ("sent", "parked", "owed"):
            await store.enqueue_alert(make_alert(name), ["s"], NOW)
        claimed = {d.alert.id: d for d in await store.claim_due(NOW, "o", 60)}
        outcomes = [
            Ack("sent", "s", claimed["sent"].claim, DeliveryStatus.DELIVERED, NOW, "", '{"m": 1}'),
            Ack("parked", "s", claimed["parked"].claim, DeliveryStatus.PARKED, NOW, "HTTP 400"),
            Ack("owed", "s", claimed["owed"].claim, DeliveryStatus.PENDING, NOW + timedelta(days=9)),
        ]
        assert await store.ack_deliveries(outcomes) == [True] * 3
        assert count_rows(tmp_path, "receipts") == 1
        soon = NOW + timedelta(seconds=3000)  # within seen_ttl: nothing goes
        assert await store.enqueue_alert(make_alert("next"), ["s"], soon)
        assert count_rows(tmp_path, "alerts") == 4
        later = NOW + timedelta(seconds=3600 + PURGE_EVERY)
        assert await store.enqueue_alert(make_alert("last"), ["s"], later)
        left = {d.alert.id: d.status for d in await store.deliveries()}
        assert left == {
            "owed": DeliveryStatus.PENDING,
            "next": DeliveryStatus.PENDING,
            "last": DeliveryStatus.PENDING,
        }
        assert count_rows(tmp_path, "alerts") == 3
        assert count_rows(tmp_path, "receipts") == 0
        # Forgotten with its items: the same alert again, a month on, is a new alert.
        assert await store.enqueue_alert(make_alert("sent"), ["s"], later)
    finally:
        await store.close()

"""One contract, run unchanged against the embedded store and the Redis store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from service.errors import StoreLockedError
from service.models import Alert, FeedState, Hit, Item, Match
from service.state.embedded import EmbeddedStore
from service.state.protocol import DeliveryStatus, Store
from service.state.redis_store import RedisStore
from tests.conftest import REDIS_URL

NOW = datetime(2021, 6, 10, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["embedded", "redis"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, redis_client: aioredis.Redis, redis_prefix: str
) -> AsyncIterator[Store]:
    backend: Store
    if request.param == "embedded":
        backend = EmbeddedStore(tmp_path / "state", seen_ttl=3600)
    else:
        backend = RedisStore(REDIS_URL, seen_ttl=3600, prefix=redis_prefix)
    await backend.open()
    yield backend
    await backend.close()


def make_alert(alert_id: str = "a1", title: str = "قاآني يصل بغداد") -> Alert:
    item = Item(id="i1", feed="f", title=title, url="https://x.example/1", published=NOW, language="ar")
    match = Match("w", (Hit("@rocket", "صواريخ", "content", 3, 9),), ("Baghdad International Airport",))
    return Alert(alert_id, "w", item, match)


async def test_feed_state_round_trips(store: Store) -> None:
    assert await store.get_feed_state("f") is None
    state = FeedState("f", url="https://new.example/", etag='W/"x"', next_poll=NOW, failures=2, first_polled=NOW)
    await store.put_feed_state(state)
    assert await store.get_feed_state("f") == state
    assert await store.all_feed_states() == [state]


async def test_items_are_unseen_until_remembered_and_forgotten_after_the_ttl(store: Store) -> None:
    assert await store.unseen_items("f", ["a", "b", "a"], NOW) == ["a", "b"]
    await store.remember_items("f", ["a"], NOW)
    assert await store.unseen_items("f", ["a", "b"], NOW) == ["b"]
    assert await store.unseen_items("other-feed", ["a"], NOW) == ["a"]
    assert await store.unseen_items("f", ["a"], NOW + timedelta(seconds=3601)) == ["a"]


async def test_an_alert_is_enqueued_once_with_one_delivery_per_sink(store: Store) -> None:
    alert = make_alert()
    assert await store.enqueue_alert(alert, ["s1", "s2"], NOW) is True
    assert await store.enqueue_alert(alert, ["s1", "s2"], NOW) is False
    due = await store.due_deliveries(NOW)
    assert sorted(d.sink for d in due) == ["s1", "s2"]
    assert due[0].alert == alert
    assert all(d.status is DeliveryStatus.PENDING for d in due)


async def test_delivered_and_parked_deliveries_are_no_longer_due(store: Store) -> None:
    await store.enqueue_alert(make_alert(), ["s1", "s2", "s3"], NOW)
    await store.mark_delivered("a1", "s1", NOW)
    await store.park("a1", "s2", "HTTP 400: bad", NOW)
    await store.schedule_retry("a1", "s3", NOW + timedelta(minutes=5), "HTTP 503")
    assert await store.due_deliveries(NOW) == []
    later = await store.due_deliveries(NOW + timedelta(minutes=5))
    assert [(d.sink, d.attempts, d.last_error) for d in later] == [("s3", 1, "HTTP 503")]
    by_status = {d.sink: d.status for d in await store.deliveries()}
    assert by_status == {"s1": DeliveryStatus.DELIVERED, "s2": DeliveryStatus.PARKED, "s3": DeliveryStatus.PENDING}
    parked = await store.deliveries(DeliveryStatus.PARKED)
    assert [d.last_error for d in parked] == ["HTTP 400: bad"]


async def test_a_delivered_alert_is_never_reopened_by_a_late_retry(store: Store) -> None:
    await store.enqueue_alert(make_alert(), ["s1"], NOW)
    await store.mark_delivered("a1", "s1", NOW)
    await store.schedule_retry("a1", "s1", NOW, "late timeout")
    assert await store.due_deliveries(NOW + timedelta(hours=1)) == []
    assert (await store.deliveries())[0].status is DeliveryStatus.DELIVERED


async def test_a_second_process_cannot_open_the_same_embedded_directory(tmp_path: Path) -> None:
    first = EmbeddedStore(tmp_path / "state")
    await first.open()
    try:
        with pytest.raises(StoreLockedError, match="in use by another newsalert process"):
            await EmbeddedStore(tmp_path / "state").open()
    finally:
        await first.close()
    again = EmbeddedStore(tmp_path / "state")
    await again.open()
    await again.close()


async def test_the_embedded_store_keeps_state_across_reopening(tmp_path: Path) -> None:
    first = EmbeddedStore(tmp_path / "state")
    await first.open()
    await first.remember_items("f", ["x"], NOW)
    await first.enqueue_alert(make_alert(), ["s"], NOW)
    await first.close()
    second = EmbeddedStore(tmp_path / "state")
    await second.open()
    try:
        assert await second.unseen_items("f", ["x", "y"], NOW) == ["y"]
        assert await second.enqueue_alert(make_alert(), ["s"], NOW) is False
    finally:
        await second.close()

"""One contract, run unchanged against the embedded store and the Redis store."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from service.errors import StoreLockedError
from service.events.anchors import default_finder
from service.events.link import Report
from service.models import Alert, FeedState, Hit, Item, Match, Outlet
from service.state.embedded import EmbeddedStore
from service.state.fingerprint import story_id_for
from service.state.protocol import Ack, Delivery, DeliveryStatus, EventMatch, Store
from service.state.redis_store import RedisStore
from tests.conftest import FIXTURES, REDIS_URL
from tests.events import corpus
from tests.events.corpus import report_for
from tests.state.conftest import FIXTURES as STATE_FIXTURES

NOW = datetime(2021, 6, 10, 8, 0, tzinfo=UTC)
STORY_TTL = 7200.0


@pytest.fixture(params=["embedded", "redis"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, redis_client: aioredis.Redis, redis_prefix: str
) -> AsyncIterator[Store]:
    backend: Store
    if request.param == "embedded":
        backend = EmbeddedStore(tmp_path / "state", seen_ttl=3600, story_ttl=STORY_TTL)
    else:
        backend = RedisStore(REDIS_URL, seen_ttl=3600, story_ttl=STORY_TTL, prefix=redis_prefix)
    await backend.open()
    yield backend
    await backend.close()


def make_alert(alert_id: str = "a1", title: str = "قاآني يصل بغداد") -> Alert:
    item = Item(id="i1", feed="f", title=title, url="https://x.example/1", published=NOW, language="ar")
    match = Match("w", (Hit("@rocket", "صواريخ", "content", 3, 9),), ("Baghdad International Airport",))
    return Alert(alert_id, "w", item, match)


async def test_feed_state_round_trips(store: Store) -> None:
    assert await store.get_feed_state("f") is None
    state = FeedState(
        "f", url="https://new.example/", etag='W/"x"', next_poll=NOW, failures=2, first_polled=NOW
    )
    await store.put_feed_state(state)
    assert await store.get_feed_state("f") == state
    assert await store.all_feed_states() == [state]


async def test_items_are_unseen_until_remembered_and_forgotten_after_the_ttl(store: Store) -> None:
    assert await store.unseen_items("f", ["a", "b", "a"], NOW) == ["a", "b"]
    await store.remember_items("f", ["a"], NOW)
    assert await store.unseen_items("f", ["a", "b"], NOW) == ["b"]
    assert await store.unseen_items("other-feed", ["a"], NOW) == ["a"]
    assert await store.unseen_items("f", ["a"], NOW + timedelta(seconds=3601)) == ["a"]


async def test_a_first_poll_of_thousands_of_items_is_deduplicated_in_one_call_each(store: Store) -> None:
    ids = [f"item-{n}" for n in range(1234)]
    await store.remember_items("f", ids[::2], NOW)
    assert await store.unseen_items("f", ids, NOW) == ids[1::2]
    await store.remember_items("f", ids, NOW)
    assert await store.unseen_items("f", [*ids, "new"], NOW) == ["new"]


async def test_an_alert_is_enqueued_once_with_one_delivery_per_sink(store: Store) -> None:
    alert = make_alert()
    assert await store.enqueue_alert(alert, ["s1", "s2"], NOW) is True
    assert await store.enqueue_alert(alert, ["s1", "s2"], NOW) is False
    due = await store.claim_due(NOW, "replica-a", 30)
    assert sorted(d.sink for d in due) == ["s1", "s2"]
    assert due[0].alert == alert
    assert all(d.status is DeliveryStatus.PENDING and d.attempts == 0 for d in due)


async def test_delivered_and_parked_deliveries_are_no_longer_due(store: Store) -> None:
    await store.enqueue_alert(make_alert(), ["s1", "s2", "s3"], NOW)
    claimed = {d.sink: d for d in await store.claim_due(NOW, "replica-a", 30)}
    outcomes = [
        ack(claimed["s1"], DeliveryStatus.DELIVERED),
        ack(claimed["s2"], DeliveryStatus.PARKED, error="HTTP 400: bad"),
        ack(claimed["s3"], DeliveryStatus.PENDING, NOW + timedelta(minutes=5), "HTTP 503"),
    ]
    assert await store.ack_deliveries(outcomes) == [True] * 3
    assert await store.claim_due(NOW, "replica-b", 30) == []
    later = await store.claim_due(NOW + timedelta(minutes=5), "replica-b", 30)
    assert [(d.sink, d.attempts, d.last_error) for d in later] == [("s3", 1, "HTTP 503")]
    by_status = {d.sink: d.status for d in await store.deliveries()}
    assert by_status == {
        "s1": DeliveryStatus.DELIVERED,
        "s2": DeliveryStatus.PARKED,
        "s3": DeliveryStatus.PENDING,
    }
    parked = await store.deliveries(DeliveryStatus.PARKED)
    assert [d.last_error for d in parked] == ["HTTP 400: bad"]


async def test_a_delivered_alert_is_never_reopened_by_a_late_retry(store: Store) -> None:
    await store.enqueue_alert(make_alert(), ["s1"], NOW)
    [claimed] = await store.claim_due(NOW, "replica-a", 30)
    assert await store.ack_deliveries([ack(claimed, DeliveryStatus.DELIVERED)]) == [True]
    late = ack(claimed, DeliveryStatus.PENDING, NOW, "late timeout")  # the same claim, answering again
    assert await store.ack_deliveries([late]) == [False]
    assert await store.claim_due(NOW + timedelta(hours=1), "replica-b", 30) == []
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


# -- events ------------------------------------------------------------------------------------------


def fixture_report(name: str, at: datetime = NOW, title: str = "") -> Report:
    item = Item(id=name, feed="x", title=title, content=text_of(name), published=at, language="ar")
    return report_for(item)


def text_of(name: str) -> str:
    path = FIXTURES / name if name == "seed-article.txt" else STATE_FIXTURES / name
    return path.read_text(encoding="utf-8")


def outlet(feed: str, language: str | None = "ar") -> Outlet:
    return Outlet(feed, language, f"https://{feed}.example/1", NOW.timestamp())


async def test_a_syndicated_copy_joins_the_first_copys_event_and_lists_both_outlets(store: Store) -> None:
    seed, syndicated = fixture_report("seed-article.txt"), fixture_report("seed-syndicated.txt")
    first = await store.find_or_add_event("shafaq\x1f1", seed, outlet("shafaq"), NOW)
    assert first == EventMatch(story_id_for("shafaq\x1f1"), True, (outlet("shafaq"),), "new")
    copy_ = await store.find_or_add_event("mada\x1f9", syndicated, outlet("mada"), NOW)
    assert (copy_.event_id, copy_.is_new, copy_.how) == (first.event_id, False, "text")
    assert copy_.outlets == (outlet("shafaq"), outlet("mada"))


async def test_two_different_attacks_at_the_same_airport_are_two_events(store: Store) -> None:
    a = await store.find_or_add_event("f\x1fa", fixture_report("airport-attack-a.txt"), outlet("f"), NOW)
    b = await store.find_or_add_event("g\x1fb", fixture_report("airport-attack-b.txt"), outlet("g"), NOW)
    assert a.is_new and b.is_new
    assert a.event_id != b.event_id


async def test_reports_in_four_languages_are_one_event_and_the_next_days_attack_another(store: Store) -> None:
    firsts = ["victory-1-shafaq", "victory-1-irna-fa", "victory-1-rudaw-ckb", "victory-1-reuters"]
    found = [
        await store.find_or_add_event(c, corpus.copy(c).report, corpus.copy(c).outlet, NOW) for c in firsts
    ]
    assert len({m.event_id for m in found}) == 1
    assert [o.language for o in found[-1].outlets] == ["ar", "fa", "ckb", "en"]
    assert {m.how for m in found[1:]} == {"anchors"}
    second = corpus.copy("victory-2-shafaq")
    next_day = await store.find_or_add_event(second.id, second.report, second.outlet, NOW)
    assert next_day.is_new
    assert found[0].event_id in dict(next_day.refused)


async def test_one_template_a_week_apart_is_two_events_even_seen_at_the_same_moment(store: Store) -> None:
    """The Security Media Cell's fixed wording scores as a near copy; its dates and counts differ."""
    first, later = (
        corpus.copy("victory-1-security-media-cell"),
        corpus.copy("smc-template-later-security-media-cell"),
    )
    a = await store.find_or_add_event(first.id, first.report, first.outlet, NOW)
    b = await store.find_or_add_event(later.id, later.report, later.outlet, NOW)
    assert a.is_new and b.is_new


async def test_the_same_item_key_always_lands_in_the_same_event(store: Store) -> None:
    seed, syndicated = fixture_report("seed-article.txt"), fixture_report("seed-syndicated.txt")
    first = await store.find_or_add_event("a\x1f1", seed, outlet("a"), NOW)
    joined = await store.find_or_add_event("b\x1f2", syndicated, outlet("b"), NOW)
    again = await store.find_or_add_event("a\x1f1", seed, outlet("a"), NOW)
    assert (again.event_id, again.is_new, again.outlets, again.how) == (
        first.event_id,
        True,
        (outlet("a"), outlet("b")),
        "again",
    )
    repeat = await store.find_or_add_event("b\x1f2", syndicated, outlet("b"), NOW)
    assert (repeat.event_id, repeat.is_new) == (joined.event_id, False)


async def test_an_outlet_reporting_an_event_twice_is_listed_once(store: Store) -> None:
    await store.find_or_add_event("a\x1f1", fixture_report("seed-article.txt"), outlet("a"), NOW)
    again = await store.find_or_add_event("a\x1f2", fixture_report("seed-syndicated.txt"), outlet("a"), NOW)
    assert again.outlets == (outlet("a"),)
    assert not again.is_new


async def test_a_report_with_nothing_to_link_by_is_an_event_of_its_own(store: Store) -> None:
    bare = Report(NOW.timestamp(), default_finder().find(Item(id="x", feed="a", title="ok")))
    alone = await store.find_or_add_event("a\x1f1", bare, outlet("a"), NOW)
    assert alone.is_new and alone.event_id == story_id_for("a\x1f1")
    other = await store.find_or_add_event("b\x1f1", bare, outlet("b"), NOW)
    assert other.is_new and other.event_id != alone.event_id


async def test_an_event_is_forgotten_story_ttl_after_its_latest_copy(store: Store) -> None:
    seed, syndicated = fixture_report("seed-article.txt"), fixture_report("seed-syndicated.txt")
    first = await store.find_or_add_event("a\x1f1", seed, outlet("a"), NOW)
    later = NOW + timedelta(seconds=STORY_TTL * 0.9)
    assert (
        await store.find_or_add_event("b\x1f1", syndicated, outlet("b"), later)
    ).event_id == first.event_id
    # The copy kept the event alive past the first copy's own TTL...
    third = await store.find_or_add_event(
        "c\x1f1", seed, outlet("c"), NOW + timedelta(seconds=STORY_TTL * 1.5)
    )
    assert third.event_id == first.event_id
    # ...and once no copy came for a whole TTL, the same text starts a new event.
    gone = NOW + timedelta(seconds=STORY_TTL * 2.6)
    assert (await store.find_or_add_event("d\x1f1", seed, outlet("d"), gone)).is_new


async def test_copies_added_at_the_same_instant_end_as_one_event(store: Store) -> None:
    """Two languages and two texts, eight callers at once: the store decides atomically."""
    names = ["victory-1-shafaq", "victory-1-irna-fa", "victory-1-rudaw-ckb", "victory-1-reuters"] * 2
    found = await asyncio.gather(
        *(
            store.find_or_add_event(f"{n}\x1f{i}", corpus.copy(n).report, outlet(f"f{i}"), NOW)
            for i, n in enumerate(names)
        )
    )
    assert len({m.event_id for m in found}) == 1
    assert sum(m.is_new for m in found) == 1


# -- schedule and leases ------------------------------------------------------------------------------


async def test_due_feeds_lists_feeds_due_by_now_most_overdue_first(store: Store) -> None:
    await store.schedule_feed("later", NOW + timedelta(minutes=5))
    await store.schedule_feed("now", NOW)
    await store.schedule_feed("overdue", NOW - timedelta(minutes=5))
    assert await store.due_feeds(NOW, 10) == ["overdue", "now"]
    assert await store.due_feeds(NOW, 1) == ["overdue"]
    await store.schedule_feed("overdue", NOW + timedelta(minutes=10))
    await store.unschedule_feed("now")
    assert await store.due_feeds(NOW + timedelta(minutes=6), 10) == ["later"]


async def test_scheduling_if_absent_seeds_new_feeds_without_moving_known_ones(store: Store) -> None:
    await store.schedule_feed("known", NOW + timedelta(minutes=5))
    for feed in ("known", "new"):
        await store.schedule_feed(feed, NOW, if_absent=True)
    assert await store.due_feeds(NOW, 10) == ["new"]
    assert await store.due_feeds(NOW + timedelta(minutes=5), 10) == ["new", "known"]


async def test_a_glance_gives_the_due_feeds_with_their_times_the_count_and_the_next_due_time(
    store: Store,
) -> None:
    await store.schedule_feeds(
        {"later": NOW + timedelta(minutes=5), "now": NOW, "overdue": NOW - timedelta(minutes=5)}
    )
    await store.schedule_feed("soon", NOW + timedelta(seconds=30))
    assert (await store.glance(NOW, 1)).scheduled is None  # counted only when asked
    glance = await store.glance(NOW, 1, count_all=True)
    assert glance.due == [("overdue", NOW - timedelta(minutes=5))]
    assert (glance.due_count, glance.next_due, glance.scheduled) == (2, NOW + timedelta(seconds=30), 4)
    everything = await store.glance(NOW + timedelta(hours=1), 10)
    assert [name for name, _ in everything.due] == ["overdue", "now", "soon", "later"]
    assert everything.next_due is None


async def test_scheduling_many_feeds_at_once_keeps_known_due_times_when_asked(store: Store) -> None:
    await store.schedule_feed("known", NOW + timedelta(minutes=5))
    await store.schedule_feeds({f"f{i}": NOW for i in range(12_000)} | {"known": NOW}, if_absent=True)
    glance = await store.glance(NOW, 5, count_all=True)
    assert (glance.due_count, glance.scheduled, glance.next_due) == (
        12_000,
        12_001,
        NOW + timedelta(minutes=5),
    )


async def test_a_held_lease_is_refused_to_another_owner_until_released(store: Store) -> None:
    token = await store.acquire_lease("f", "a", 30, NOW)
    assert token is not None
    assert await store.acquire_lease("f", "b", 30, NOW) is None
    await store.release_lease("f", "b", token)  # not b's lease: nothing happens
    assert await store.acquire_lease("f", "b", 30, NOW) is None
    await store.release_lease("f", "a", token)
    second = await store.acquire_lease("f", "b", 30, NOW)
    assert second is not None and second > token
    assert await store.acquire_lease("other-feed", "a", 30, NOW) is not None


async def test_an_expired_lease_is_taken_over_and_its_old_holder_can_neither_renew_nor_release_it(
    store: Store,
) -> None:
    old = await store.acquire_lease("f", "a", 0.15, clock())
    assert old is not None
    await asyncio.sleep(0.25)
    new = await store.acquire_lease("f", "b", 30, clock())
    assert new is not None and new > old
    assert await store.renew_lease("f", "a", old, 30, clock()) is False
    await store.release_lease("f", "a", old)
    assert await store.acquire_lease("f", "c", 30, clock()) is None


async def test_a_renewed_lease_outlives_its_first_ttl(store: Store) -> None:
    token = await store.acquire_lease("f", "a", 0.3, clock())
    assert token is not None
    await asyncio.sleep(0.15)
    assert await store.renew_lease("f", "a", token, 30, clock()) is True
    await asyncio.sleep(0.25)
    assert await store.acquire_lease("f", "b", 30, clock()) is None


async def test_fencing_refuses_a_feed_state_write_from_a_stale_lease_holder(store: Store) -> None:
    stale = await store.acquire_lease("f", "a", 0.1, clock())
    assert stale is not None
    await asyncio.sleep(0.15)
    current = await store.acquire_lease("f", "b", 30, clock())
    assert current is not None
    assert await store.put_feed_state_fenced(FeedState("f", etag="new"), current) is True
    assert await store.put_feed_state_fenced(FeedState("f", etag="stale"), stale) is False
    assert await store.get_feed_state("f") == FeedState("f", etag="new")
    assert [s.name for s in await store.all_feed_states()] == ["f"]


def clock() -> datetime:
    """Lease expiry runs on real time in Redis (PX), so lease tests pass the real time as `now`."""
    return datetime.now(UTC)


def ack(delivery: Delivery, status: DeliveryStatus, at: datetime | None = NOW, error: str = "") -> Ack:
    return Ack(delivery.alert.id, delivery.sink, delivery.claim, status, at, error)


async def test_deliveries_by_status_are_not_crowded_out_by_older_ones_of_another(store: Store) -> None:
    """`newsalert outbox` asks for what is pending and parked; thousands delivered come first."""
    for n in range(12):
        await store.enqueue_alert(make_alert(f"old{n:02}"), ["s"], NOW + timedelta(seconds=n))
    done = await store.claim_due(NOW + timedelta(minutes=1), "replica-a", 30, 12)
    assert await store.ack_deliveries([ack(d, DeliveryStatus.DELIVERED) for d in done]) == [True] * 12
    await store.enqueue_alert(make_alert("stuck"), ["s"], NOW + timedelta(minutes=2))
    await store.enqueue_alert(make_alert("owed"), ["s"], NOW + timedelta(minutes=3))
    [stuck] = await store.claim_due(NOW + timedelta(minutes=2), "replica-a", 30, 1)
    assert await store.ack_deliveries([ack(stuck, DeliveryStatus.PARKED, error="HTTP 400")]) == [True]
    assert [d.alert.id for d in await store.deliveries(DeliveryStatus.PENDING, limit=5)] == ["owed"]
    assert [d.alert.id for d in await store.deliveries(DeliveryStatus.PARKED, limit=5)] == ["stuck"]
    delivered = await store.deliveries(DeliveryStatus.DELIVERED, limit=5)
    assert [d.alert.id for d in delivered] == [f"old{n:02}" for n in range(5)]


async def test_due_deliveries_are_claimed_in_one_call_by_one_owner_at_a_time(store: Store) -> None:
    await store.enqueue_alert(make_alert("a1"), ["s1", "s2"], NOW)
    await store.enqueue_alert(make_alert("a2"), ["s1"], NOW + timedelta(seconds=1))
    await store.enqueue_alert(make_alert("later"), ["s1"], NOW + timedelta(minutes=5))
    claimed = await store.claim_due(NOW + timedelta(seconds=1), "replica-a", 30)
    assert [(d.alert.id, d.sink) for d in sorted(claimed, key=lambda d: d.alert.id)] == [
        ("a1", "s1"),
        ("a1", "s2"),
        ("a2", "s1"),
    ]
    assert claimed[-1].alert == make_alert("a2")  # most overdue first
    assert all(d.claim > 0 and d.status is DeliveryStatus.PENDING for d in claimed)
    assert await store.claim_due(NOW + timedelta(seconds=1), "replica-b", 30) == []
    again = await store.claim_due(NOW + timedelta(seconds=1), "replica-a", 30)  # its own, claimed anew
    assert {d.alert.id for d in again} == {"a1", "a2"}
    assert all(new.claim > old.claim for old, new in zip(claimed, again, strict=True))


async def test_a_claim_skips_the_sinks_asked_and_stops_at_the_limit(store: Store) -> None:
    for n in range(5):
        await store.enqueue_alert(make_alert(f"a{n}"), ["s1", "s2"], NOW + timedelta(seconds=n))
    s2 = await store.claim_due(NOW + timedelta(minutes=1), "replica-a", 30, skip_sinks=["s1"])
    assert [(d.alert.id, d.sink) for d in s2] == [(f"a{n}", "s2") for n in range(5)]
    # Deliveries another owner holds are passed over, and the limit still fills from what follows.
    first = await store.claim_due(NOW + timedelta(minutes=1), "replica-b", 30, 2)
    assert [(d.alert.id, d.sink) for d in first] == [("a0", "s1"), ("a1", "s1")]
    assert await store.claim_due(NOW + timedelta(minutes=1), "replica-a", 30, 0) == []


async def test_acks_move_claimed_deliveries_in_one_call(store: Store) -> None:
    await store.enqueue_alert(make_alert(), ["s1", "s2", "s3", "s4"], NOW)
    by_sink = {d.sink: d for d in await store.claim_due(NOW, "replica-a", 30)}
    acks = [
        ack(by_sink["s1"], DeliveryStatus.DELIVERED),
        ack(by_sink["s2"], DeliveryStatus.PARKED, error="HTTP 400: bad"),
        ack(by_sink["s3"], DeliveryStatus.PENDING, NOW + timedelta(minutes=5), "HTTP 503"),
        ack(by_sink["s4"], DeliveryStatus.PENDING, None),  # not reached: given back
    ]
    assert await store.ack_deliveries(acks) == [True] * 4
    # The same acks again (a retried batch): read as applied, and nothing moves twice.
    assert await store.ack_deliveries(acks) == [True] * 4
    # Another outcome under a spent claim is refused.
    other = [
        ack(by_sink["s1"], DeliveryStatus.PARKED, error="late"),
        ack(by_sink["s3"], DeliveryStatus.DELIVERED),
    ]
    assert await store.ack_deliveries(other) == [False, False]
    found = {d.sink: (d.status, d.attempts, d.last_error) for d in await store.deliveries()}
    assert found == {
        "s1": (DeliveryStatus.DELIVERED, 1, None),
        "s2": (DeliveryStatus.PARKED, 1, "HTTP 400: bad"),
        "s3": (DeliveryStatus.PENDING, 1, "HTTP 503"),
        "s4": (DeliveryStatus.PENDING, 0, None),
    }
    # The given-back claim is free for another owner at once; the retry is due five minutes later.
    assert [d.sink for d in await store.claim_due(NOW, "replica-b", 30)] == ["s4"]
    later = await store.claim_due(NOW + timedelta(minutes=5), "replica-c", 30)
    assert [(d.sink, d.attempts, d.last_error) for d in later] == [("s3", 1, "HTTP 503")]
    assert await store.outbox_depth() == 2
    assert await store.ack_deliveries([]) == []


async def test_a_crashed_replicas_claims_expire_and_are_taken_over(store: Store) -> None:
    await store.enqueue_alert(make_alert(), ["s1"], NOW)
    assert len(await store.claim_due(NOW, "replica-a", 0.2)) == 1
    assert await store.claim_due(NOW, "replica-b", 30) == []
    await asyncio.sleep(0.3)
    [taken] = await store.claim_due(NOW, "replica-b", 30)
    assert taken.alert.id == "a1"


async def test_an_ack_from_a_replica_whose_claim_was_taken_over_changes_nothing(store: Store) -> None:
    await store.enqueue_alert(make_alert("a1"), ["s1"], NOW)
    await store.enqueue_alert(make_alert("a2"), ["s1"], NOW)
    stale = await store.claim_due(NOW, "replica-a", 0.1)
    await asyncio.sleep(0.2)
    current = await store.claim_due(NOW, "replica-b", 30)
    assert [d.alert.id for d in current] == ["a1", "a2"]
    # replica-a wakes up: its batch (a delivery and a retry) is refused, and b's claims still hold...
    refused = [
        ack(stale[0], DeliveryStatus.DELIVERED),
        ack(stale[1], DeliveryStatus.PENDING, NOW + timedelta(hours=1), "late timeout"),
    ]
    assert await store.ack_deliveries(refused) == [False, False]
    assert {d.status for d in await store.deliveries()} == {DeliveryStatus.PENDING}
    assert await store.claim_due(NOW, "replica-c", 30) == []
    # ...so b's own outcomes are the ones written.
    assert await store.ack_deliveries([ack(d, DeliveryStatus.DELIVERED) for d in current]) == [True, True]
    assert {d.status for d in await store.deliveries()} == {DeliveryStatus.DELIVERED}


async def test_a_crash_before_a_buffered_ack_costs_at_most_one_resend_with_the_same_id(
    store: Store,
) -> None:
    await store.enqueue_alert(make_alert(), ["s1"], NOW)
    [sent] = await store.claim_due(NOW, "replica-a", 0.1)  # sent, then the process died
    await asyncio.sleep(0.2)
    [resent] = await store.claim_due(NOW, "replica-b", 0.1)
    assert resent.alert == sent.alert
    assert await store.ack_deliveries([ack(resent, DeliveryStatus.DELIVERED)]) == [True]
    await asyncio.sleep(0.2)
    assert await store.claim_due(NOW + timedelta(hours=1), "replica-c", 30) == []
    assert await store.ack_deliveries([ack(sent, DeliveryStatus.DELIVERED)]) == [False]
    [delivery] = await store.deliveries()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1)


async def test_an_expired_claim_nobody_took_over_is_still_acknowledged(store: Store) -> None:
    await store.enqueue_alert(make_alert(), ["s1"], NOW)
    [slow] = await store.claim_due(NOW, "replica-a", 0.1)
    await asyncio.sleep(0.2)
    assert await store.ack_deliveries([ack(slow, DeliveryStatus.DELIVERED)]) == [True]
    assert await store.claim_due(NOW, "replica-b", 30) == []


async def test_a_claim_never_returns_a_delivered_or_parked_delivery(store: Store) -> None:
    await store.enqueue_alert(make_alert(), ["s1", "s2"], NOW)
    claimed = {d.sink: d for d in await store.claim_due(NOW, "replica-a", 0.1)}
    done = [
        ack(claimed["s1"], DeliveryStatus.DELIVERED),
        ack(claimed["s2"], DeliveryStatus.PARKED, error="gone"),
    ]
    assert await store.ack_deliveries(done) == [True, True]
    await asyncio.sleep(0.2)  # the claims have expired: only the outcomes keep them from being due
    assert await store.claim_due(NOW + timedelta(hours=1), "replica-b", 30) == []


async def test_the_outbox_depth_counts_pending_deliveries(store: Store) -> None:
    assert await store.outbox_depth() == 0
    await store.enqueue_alert(make_alert(), ["s1", "s2"], NOW)
    claimed = {d.sink: d for d in await store.claim_due(NOW, "replica-a", 30)}
    assert await store.outbox_depth() == 2  # claimed is still owed
    assert await store.ack_deliveries([ack(claimed["s1"], DeliveryStatus.DELIVERED)]) == [True]
    assert await store.outbox_depth() == 1


# -- a later copy of an event: the alert's outlets, and edits of messages already sent ---------------


def outs(*feeds: str) -> tuple[Outlet, ...]:
    return tuple(Outlet(f) for f in feeds)


def delivered(delivery: Delivery, receipt: str | None) -> Ack:
    return Ack(
        delivery.alert.id,
        delivery.sink,
        delivery.claim,
        DeliveryStatus.DELIVERED,
        NOW,
        "",
        receipt,
        delivery.edit,
    )


async def send_all(store: Store, receipts: dict[str, str | None], owner: str = "replica-a") -> None:
    """Claim every due delivery and acknowledge it delivered with the receipt given for its sink."""
    claimed = await store.claim_due(NOW + timedelta(hours=1), owner, 30)
    assert await store.ack_deliveries([delivered(d, receipts.get(d.sink)) for d in claimed]) == [True] * len(
        claimed
    )


async def test_a_later_outlet_reaches_a_delivery_still_pending(store: Store) -> None:
    await store.enqueue_alert(make_alert(), ["s1"], NOW)
    assert await store.note_outlets("a1", ["s1"], outs("f", "g"), NOW) == []
    assert await store.note_outlets("a1", ["s1"], outs("g", "f"), NOW) == []  # nothing new
    [pending] = await store.claim_due(NOW, "replica-a", 30)
    assert (pending.alert.also_reported_by, pending.edit) == (outs("g"), False)
    assert pending.alert == replace(make_alert(), also_reported_by=outs("g"))
    await store.ack_deliveries([delivered(pending, "r1")])
    [only] = await store.deliveries()  # the send carried the outlet already: no edit
    assert (only.status, only.receipt, only.edit) == (DeliveryStatus.DELIVERED, "r1", False)


async def test_an_alert_never_lists_its_own_feed_and_an_unknown_alert_changes_nothing(store: Store) -> None:
    await store.enqueue_alert(make_alert(), ["s1"], NOW)
    assert await store.note_outlets("a1", ["s1"], outs("f"), NOW) == []
    assert await store.note_outlets("nope", ["s1"], outs("f", "g"), NOW) == []
    [delivery] = await store.deliveries()
    assert delivery.alert == make_alert()


async def test_a_delivered_message_with_a_receipt_gets_one_pending_edit_however_many_copies(
    store: Store,
) -> None:
    await store.enqueue_alert(make_alert(), ["s1", "s2"], NOW)
    await send_all(store, {"s1": '{"m":1}', "s2": None})
    assert await store.note_outlets("a1", ["s1", "s2"], outs("f", "g"), NOW) == ["s1"]
    assert await store.note_outlets("a1", ["s1", "s2"], outs("f", "g", "h"), NOW) == ["s1"]
    assert await store.note_outlets("a1", ["s1", "s2"], outs("f", "h"), NOW) == []
    rows = await store.deliveries()
    edits = [d for d in rows if d.edit]
    assert [(d.sink, d.status, d.receipt, d.attempts) for d in edits] == [
        ("s1", DeliveryStatus.PENDING, '{"m":1}', 0)
    ]
    assert edits[0].alert.also_reported_by == outs("g", "h")
    assert {d.sink: d.receipt for d in rows if not d.edit} == {"s1": '{"m":1}', "s2": None}
    assert await store.outbox_depth() == 1

    [edit] = await store.claim_due(NOW, "replica-a", 30, skip_sinks=["s2"])
    assert (edit.sink, edit.edit, edit.receipt, edit.alert.also_reported_by) == (
        "s1",
        True,
        '{"m":1}',
        outs("g", "h"),
    )
    assert await store.claim_due(NOW, "replica-b", 30, skip_sinks=["s2"]) == []
    assert await store.claim_due(NOW, "replica-a", 30, skip_sinks=["s1"]) == []  # an edit is its sink's
    assert await store.ack_deliveries([delivered(edit, None)]) == [True]
    assert {(d.sink, d.edit): (d.status, d.receipt) for d in await store.deliveries()} == {
        ("s1", False): (DeliveryStatus.DELIVERED, '{"m":1}'),
        ("s1", True): (DeliveryStatus.DELIVERED, '{"m":1}'),
        ("s2", False): (DeliveryStatus.DELIVERED, None),
    }
    # Another outlet later: the same edit entry is due once more.
    assert await store.note_outlets("a1", ["s1", "s2"], outs("i"), NOW + timedelta(minutes=1)) == ["s1"]
    [again] = await store.claim_due(NOW + timedelta(minutes=1), "replica-a", 30)
    assert (again.edit, again.attempts, again.alert.also_reported_by) == (True, 0, outs("g", "h", "i"))


async def test_a_parked_edit_stays_parked(store: Store) -> None:
    await store.enqueue_alert(make_alert(), ["s1"], NOW)
    await send_all(store, {"s1": "r"})
    assert await store.note_outlets("a1", ["s1"], outs("g"), NOW) == ["s1"]
    [edit] = await store.claim_due(NOW, "replica-a", 30)
    parked = Ack("a1", "s1", edit.claim, DeliveryStatus.PARKED, NOW, "message can't be edited", edit=True)
    assert await store.ack_deliveries([parked]) == [True]
    assert await store.note_outlets("a1", ["s1"], outs("h"), NOW) == []
    assert await store.claim_due(NOW + timedelta(hours=1), "replica-a", 30) == []
    assert [(d.edit, d.status) for d in await store.deliveries() if d.edit] == [(True, DeliveryStatus.PARKED)]


async def test_outlets_named_while_a_send_is_in_flight_are_followed_by_an_edit(store: Store) -> None:
    await store.enqueue_alert(make_alert(), ["s1"], NOW)
    [sending] = await store.claim_due(NOW, "replica-a", 30)
    assert await store.note_outlets("a1", ["s1"], outs("g"), NOW) == []
    assert await store.ack_deliveries([delivered(sending, "r")]) == [True]
    [edit] = await store.claim_due(NOW, "replica-a", 30)
    assert (edit.edit, edit.receipt, edit.alert.also_reported_by) == (True, "r", outs("g"))
    # An edit in flight when yet another outlet arrives is due again once it is acknowledged.
    assert await store.note_outlets("a1", ["s1"], outs("h"), NOW) == ["s1"]
    assert await store.ack_deliveries([delivered(edit, None)]) == [True]
    [next_edit] = await store.claim_due(NOW, "replica-a", 30)
    assert (next_edit.edit, next_edit.alert.also_reported_by) == (True, outs("g", "h"))


async def test_a_send_claimed_after_the_outlets_changed_needs_no_edit(store: Store) -> None:
    await store.enqueue_alert(make_alert(), ["s1"], NOW)
    [first] = await store.claim_due(NOW, "replica-a", 30)
    assert await store.note_outlets("a1", ["s1"], outs("g"), NOW) == []
    assert await store.ack_deliveries([ack(first, DeliveryStatus.PENDING, None)]) == [True]  # given back
    [sending] = await store.claim_due(NOW, "replica-a", 30)  # reads the outlets as they stand
    assert sending.alert.also_reported_by == outs("g")
    assert await store.ack_deliveries([delivered(sending, "r")]) == [True]
    assert await store.claim_due(NOW + timedelta(hours=1), "replica-a", 30) == []


async def test_concurrent_copies_of_a_story_make_one_edit_naming_every_outlet(store: Store) -> None:
    await store.enqueue_alert(make_alert(), ["s1", "s2"], NOW)
    await send_all(store, {"s1": "r1", "s2": "r2"})
    outlets = [outs("f", f"o{i}") for i in range(12)] + [outs("f", "o3", "o4")] * 4
    answers = await asyncio.gather(*(store.note_outlets("a1", ["s1", "s2"], o, NOW) for o in outlets))
    assert all(answer in ([], ["s1", "s2"]) for answer in answers)
    edits = [d for d in await store.deliveries() if d.edit]
    assert sorted((d.sink, d.status) for d in edits) == [
        ("s1", DeliveryStatus.PENDING),
        ("s2", DeliveryStatus.PENDING),
    ]
    also = edits[0].alert.also_reported_by
    assert sorted(o.feed for o in also) == sorted(f"o{i}" for i in range(12))


async def test_an_embedded_directory_an_older_version_wrote_keeps_receipts(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    directory.mkdir()
    db = sqlite3.connect(directory / "newsalert.sqlite3")
    db.executescript(
        "CREATE TABLE deliveries (alert TEXT NOT NULL, sink TEXT NOT NULL, status TEXT NOT NULL,"
        " attempts INTEGER NOT NULL DEFAULT 0, next_attempt REAL NOT NULL, last_error TEXT,"
        " updated REAL NOT NULL, PRIMARY KEY (alert, sink));"
    )
    db.close()
    store = EmbeddedStore(directory)
    await store.open()
    try:
        await store.enqueue_alert(make_alert(), ["s1"], NOW)
        await send_all(store, {"s1": "r"})
        assert [d.receipt for d in await store.deliveries()] == ["r"]
    finally:
        await store.close()


async def test_redis_keeps_an_edit_and_its_receipt_only_as_long_as_the_delivery(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    store = RedisStore(REDIS_URL, seen_ttl=3600, story_ttl=STORY_TTL, prefix=redis_prefix)
    await store.open()
    try:
        await store.enqueue_alert(make_alert(), ["s1"], NOW)
        await send_all(store, {"s1": "r"})
        assert await store.note_outlets("a1", ["s1"], outs("g"), NOW) == ["s1"]
        send_key = f"{store.keys.delivery_prefix}a1\x1fs1"
        edit_key = send_key + "#edit"
        assert await redis_client.hget(send_key, "receipt") == "r"
        assert 0 < await redis_client.ttl(edit_key) <= 3600
        assert 0 < await redis_client.ttl(store.keys.alert("a1")) <= 3600  # rewritten, TTL kept
    finally:
        await store.close()

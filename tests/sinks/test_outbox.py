"""The outbox: every (alert, sink) ends delivered or parked; a failing sink never holds up another."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import structlog

from service.errors import PermanentDeliveryError, RetryLater, StoreError
from service.models import Alert
from service.sinks import outbox as outbox_module
from service.sinks.base import Throttled
from service.sinks.outbox import DeliveryStats, Outbox, RetryPolicy
from service.state.embedded import EmbeddedStore
from service.state.protocol import DeliveryStatus, Store
from service.state.redis_store import RedisStore
from tests.conftest import REDIS_URL
from tests.sinks.test_render import make_alert as render_alert


def make_alert(alert_id: str = "abc123") -> Alert:
    return replace(render_alert(), id=alert_id)


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2021, 6, 10, 8, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class ScriptedSink:
    kind = "fake"

    def __init__(self, name: str, outcomes: list[Exception | None] | None = None, delay: float = 0.0) -> None:
        self.name = name
        self.outcomes = outcomes or []
        self.sent: list[str] = []
        self.delay = delay

    async def send(self, alert: Alert) -> None:
        await asyncio.sleep(self.delay)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        self.sent.append(alert.id)

    async def close(self) -> None:
        return None


def outbox(store: EmbeddedStore, clock: FakeClock, *sinks: ScriptedSink, timeout: float = 5.0) -> Outbox:
    return Outbox(
        store,
        {s.name: s for s in sinks},
        clock=clock,
        log=structlog.get_logger(),
        policy=RetryPolicy(base_delay=10, max_delay=100, max_attempts=3),
        rng=random.Random(1),
        send_timeout=timeout,
        idle_pause=0,
    )


async def test_a_pending_delivery_is_sent_once(store: EmbeddedStore) -> None:
    clock, sink = FakeClock(), ScriptedSink("s")
    await store.enqueue_alert(make_alert(), ["s"], clock())
    box = outbox(store, clock, sink)
    assert (await box.deliver_due()).delivered == 1
    assert (await box.deliver_due()).delivered == 0
    assert sink.sent == ["abc123"]


async def test_a_transient_failure_is_retried_after_a_backoff_that_honours_retry_after(
    store: EmbeddedStore,
) -> None:
    clock, sink = FakeClock(), ScriptedSink("s", [RetryLater("429", delay=60.0)])
    await store.enqueue_alert(make_alert(), ["s"], clock())
    box = outbox(store, clock, sink)
    assert (await box.deliver_due()).retried == 1
    clock.now += timedelta(seconds=59)
    assert (await box.deliver_due()).delivered == 0
    clock.now += timedelta(seconds=2)
    assert (await box.deliver_due()).delivered == 1


async def test_a_permanent_failure_parks_with_its_reason(store: EmbeddedStore) -> None:
    clock, sink = FakeClock(), ScriptedSink("s", [PermanentDeliveryError("HTTP 400: bad payload")])
    await store.enqueue_alert(make_alert(), ["s"], clock())
    with structlog.testing.capture_logs() as logs:
        assert (await outbox(store, clock, sink).deliver_due()).parked == 1
    parked = await store.deliveries(DeliveryStatus.PARKED)
    assert parked[0].last_error == "HTTP 400: bad payload"
    assert any(e["event"] == "alert_parked" and e["sink"] == "s" for e in logs)


async def test_retries_end_parked_after_the_attempt_limit(store: EmbeddedStore) -> None:
    clock, sink = FakeClock(), ScriptedSink("s", [RetryLater("503")] * 5)
    await store.enqueue_alert(make_alert(), ["s"], clock())
    box = outbox(store, clock, sink)
    for _ in range(3):
        await box.deliver_due()
        clock.now += timedelta(hours=1)
    assert [d.status for d in await store.deliveries()] == [DeliveryStatus.PARKED]


async def test_a_broken_sink_does_not_hold_up_a_healthy_one(store: EmbeddedStore) -> None:
    clock = FakeClock()
    slow = ScriptedSink("slow", delay=10.0)
    fast = ScriptedSink("fast")
    await store.enqueue_alert(make_alert("a1"), ["slow", "fast"], clock())
    await store.enqueue_alert(make_alert("a2"), ["slow", "fast"], clock())
    box = outbox(store, clock, slow, fast, timeout=0.3)
    started = asyncio.get_running_loop().time()
    stats = await box.deliver_due()
    assert asyncio.get_running_loop().time() - started < 2
    assert fast.sent == ["a1", "a2"]
    assert stats.by_sink["slow"]["retried"] == 1  # the slow sink's queue waits for the next pass


async def test_a_delivery_for_a_removed_sink_is_parked(store: EmbeddedStore) -> None:
    clock = FakeClock()
    await store.enqueue_alert(make_alert(), ["gone"], clock())
    assert (await outbox(store, clock).deliver_due()).parked == 1


# -- classification --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "status", "attempts"),
    [
        (RetryLater("HTTP 503"), DeliveryStatus.PENDING, 1),
        (TimeoutError(), DeliveryStatus.PENDING, 1),
        (PermanentDeliveryError("HTTP 400"), DeliveryStatus.PARKED, 1),
        (Throttled("paced", 30.0), DeliveryStatus.PENDING, 0),
        (KeyError("a bug in the sink"), DeliveryStatus.PENDING, 1),
    ],
    ids=["retry-later", "timeout", "permanent", "throttled", "sink-bug"],
)
async def test_each_kind_of_failure_ends_in_its_state(
    store: EmbeddedStore, outcome: Exception, status: DeliveryStatus, attempts: int
) -> None:
    clock, sink = FakeClock(), ScriptedSink("s", [outcome])
    await store.enqueue_alert(make_alert(), ["s"], clock())
    with structlog.testing.capture_logs() as logs:
        await outbox(store, clock, sink).deliver_due()
    [delivery] = await store.deliveries()
    assert (delivery.status, delivery.attempts) == (status, attempts)
    if isinstance(outcome, KeyError):
        assert any(e["event"] == "sink_failed_unexpectedly" and e.get("exc_info") for e in logs)
    if isinstance(outcome, TimeoutError):
        assert any(e["event"] == "alert_delivery_failed" and e["ambiguous"] for e in logs)


async def test_a_throttled_sink_is_set_aside_without_losing_its_order(store: EmbeddedStore) -> None:
    clock = FakeClock()
    paced, other = ScriptedSink("paced", [None, Throttled("paced", 30.0)]), ScriptedSink("other")
    for n in range(4):
        await store.enqueue_alert(make_alert(f"a{n}"), ["paced", "other"], clock())
        clock.now += timedelta(seconds=1)
    box = outbox(store, clock, paced, other)
    stats = await box.deliver_due()
    assert (stats.throttled, paced.sent, other.sent) == (1, ["a0"], ["a0", "a1", "a2", "a3"])
    assert box.paused_until("paced") == clock.now + timedelta(seconds=30)
    clock.now += timedelta(seconds=29)
    assert (await box.deliver_due()).delivered == 0
    clock.now += timedelta(seconds=2)
    await box.deliver_due()
    assert paced.sent == ["a0", "a1", "a2", "a3"]
    assert {d.attempts for d in await store.deliveries()} == {1}  # the pause cost no attempt


async def test_a_pass_that_finds_only_set_aside_sinks_does_not_spin(store: EmbeddedStore) -> None:
    clock, sink = FakeClock(), ScriptedSink("s", [Throttled("paced", 60.0)])
    await store.enqueue_alert(make_alert(), ["s"], clock())
    box = Outbox(store, {"s": sink}, clock=clock, log=structlog.get_logger(), idle_pause=0.05)
    await box.deliver_due()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await box.deliver_due()
    assert loop.time() - started >= 0.05


# -- concurrency and ordering ---------------------------------------------------------------------------


class ConcurrentSink(ScriptedSink):
    def __init__(self, name: str, concurrency: int, delay: float) -> None:
        super().__init__(name, delay=delay)
        self.concurrency = concurrency
        self.in_flight = self.most_in_flight = 0

    async def send(self, alert: Alert) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await super().send(alert)
        finally:
            self.in_flight -= 1


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_a_sink_has_at_most_its_concurrency_in_flight_and_one_keeps_the_order(
    store: EmbeddedStore, concurrency: int
) -> None:
    clock, sink = FakeClock(), ConcurrentSink("s", concurrency, delay=0.02)
    ids = [f"a{n:02}" for n in range(12)]
    for alert_id in ids:
        await store.enqueue_alert(make_alert(alert_id), ["s"], clock())
        clock.now += timedelta(milliseconds=1)
    assert (await outbox(store, clock, sink).deliver_due()).delivered == 12
    assert sink.most_in_flight == concurrency
    if concurrency == 1:
        assert sink.sent == ids


async def test_a_sink_stops_taking_deliveries_when_its_pass_budget_is_spent(store: EmbeddedStore) -> None:
    clock, sink = FakeClock(), ScriptedSink("s", delay=0.05)
    for n in range(10):
        await store.enqueue_alert(make_alert(f"a{n}"), ["s"], clock())
    box = Outbox(store, {"s": sink}, clock=clock, log=structlog.get_logger(), pass_budget=0.12)
    first = (await box.deliver_due()).delivered
    assert 1 <= first <= 3  # 50 ms each: the budget runs out after two or three
    while len(sink.sent) < 10:
        assert (await box.deliver_due()).delivered >= 1
    assert sink.sent == [f"a{n}" for n in range(10)]


# -- digests --------------------------------------------------------------------------------------------


class DigestSink(ScriptedSink):
    def __init__(
        self, name: str, digest: float | None, outcomes: list[Exception | None] | None = None
    ) -> None:
        super().__init__(name, outcomes)
        self.digest = digest
        self.batches: list[list[str]] = []

    async def send_batch(self, alerts: Sequence[Alert]) -> None:
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        self.batches.append([a.id for a in alerts])


async def test_a_digest_waits_for_the_window_of_the_oldest_alert_then_sends_them_all_at_once(
    store: EmbeddedStore,
) -> None:
    clock, sink = FakeClock(), DigestSink("d", digest=900)
    start = clock.now
    box = outbox(store, clock, sink)
    await store.enqueue_alert(make_alert("a1"), ["d"], clock())
    assert (await box.deliver_due()).held == 1
    clock.now += timedelta(minutes=10)
    await store.enqueue_alert(make_alert("a2"), ["d"], clock())
    await box.deliver_due()
    [held] = {d.next_attempt for d in await store.deliveries()}
    assert held == start + timedelta(minutes=15)  # the newer alert joins the open window
    clock.now = start + timedelta(minutes=15) - timedelta(seconds=1)
    assert (await box.deliver_due()).delivered == 0
    clock.now += timedelta(seconds=1)
    assert (await box.deliver_due()).delivered == 2
    assert sink.batches == [["a1", "a2"]] and sink.sent == []
    assert {d.status for d in await store.deliveries()} == {DeliveryStatus.DELIVERED}


async def test_a_failed_digest_is_retried_and_parked_together(store: EmbeddedStore) -> None:
    clock = FakeClock()
    sink = DigestSink("d", digest=60, outcomes=[RetryLater("451"), PermanentDeliveryError("550 refused")])
    box = outbox(store, clock, sink)
    for n in range(3):
        await store.enqueue_alert(make_alert(f"a{n}"), ["d"], clock())
    await box.deliver_due()
    clock.now += timedelta(seconds=60)
    assert (await box.deliver_due()).retried == 3
    assert len({d.next_attempt for d in await store.deliveries()}) == 1  # still one batch
    clock.now += timedelta(hours=1)
    assert (await box.deliver_due()).parked == 3
    assert sink.batches == []


async def test_a_digest_survives_a_restart(store: EmbeddedStore) -> None:
    clock = FakeClock()
    await store.enqueue_alert(make_alert("a1"), ["d"], clock())
    await outbox(store, clock, DigestSink("d", digest=60)).deliver_due()
    clock.now += timedelta(seconds=61)
    restarted = DigestSink("d", digest=60)
    assert (await outbox(store, clock, restarted).deliver_due()).delivered == 1
    assert restarted.batches == [["a1"]]


async def test_alerts_older_than_the_window_go_out_at_once_after_downtime(store: EmbeddedStore) -> None:
    clock, sink = FakeClock(), DigestSink("d", digest=60)
    await store.enqueue_alert(make_alert("a1"), ["d"], clock())
    clock.now += timedelta(minutes=5)
    assert (await outbox(store, clock, sink).deliver_due()).delivered == 1


async def test_a_sink_without_send_batch_never_digests(store: EmbeddedStore) -> None:
    clock, sink = FakeClock(), ScriptedSink("s")
    sink.digest = 900  # type: ignore[attr-defined]
    await store.enqueue_alert(make_alert(), ["s"], clock())
    assert (await outbox(store, clock, sink).deliver_due()).delivered == 1


async def test_run_once_settles_without_spinning_while_a_digest_window_is_open(store: EmbeddedStore) -> None:
    from service.worker import settle

    clock, sink = FakeClock(), DigestSink("d", digest=900)
    await store.enqueue_alert(make_alert(), ["d"], clock())
    stats, pending = await asyncio.wait_for(
        settle(outbox(store, clock, sink), store, clock=clock, deadline=1.0, log=structlog.get_logger()),
        5,
    )
    assert (stats.held, pending) == (1, 1)


# -- claims and batched outcomes, on both stores ------------------------------------------------------


@pytest.fixture(params=["embedded", "redis"])
async def any_store(
    request: pytest.FixtureRequest, tmp_path: Path, redis_client: aioredis.Redis, redis_prefix: str
) -> AsyncIterator[Store]:
    backend: Store
    if request.param == "embedded":
        backend = EmbeddedStore(tmp_path / "state")
    else:
        backend = RedisStore(REDIS_URL, prefix=redis_prefix)
    await backend.open()
    yield backend
    await backend.close()


class CountingStore:
    """A store that counts its calls, and can fail its acks (a process that dies before writing them)."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.acks_fail = False

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            if name == "ack_deliveries" and self.acks_fail:
                raise StoreError("the process died before its outcomes were written")
            return await method(*args, **kwargs)

        return counted


def quick_outbox(store: Any, *sinks: ScriptedSink, owner: str, **options: Any) -> Outbox:
    return Outbox(
        store,
        {s.name: s for s in sinks},
        clock=lambda: datetime.now(UTC),
        log=structlog.get_logger(),
        owner=owner,
        idle_pause=0,
        **options,
    )


async def test_a_pass_claims_in_one_call_and_writes_its_outcomes_in_a_few(any_store: Store) -> None:
    store = CountingStore(any_store)
    sink, broken = ScriptedSink("s"), ScriptedSink("broken", [PermanentDeliveryError("HTTP 400")])
    for n in range(40):
        await any_store.enqueue_alert(make_alert(f"a{n:02}"), ["s"], datetime.now(UTC))
    await any_store.enqueue_alert(make_alert("z"), ["broken"], datetime.now(UTC))
    stats = await quick_outbox(store, sink, broken, owner="a").deliver_due()
    assert (stats.delivered, stats.parked) == (40, 1)
    assert sink.sent == [f"a{n:02}" for n in range(40)]
    assert store.calls["claim_due"] == 1
    assert 1 <= store.calls["ack_deliveries"] <= 4
    assert set(store.calls) <= {"claim_due", "ack_deliveries", "deliveries", "outbox_depth"}
    statuses = Counter(d.status for d in await any_store.deliveries())
    assert statuses == {DeliveryStatus.DELIVERED: 40, DeliveryStatus.PARKED: 1}


async def test_outcomes_are_written_within_milliseconds_while_the_pass_goes_on(any_store: Store) -> None:
    sink = ScriptedSink("s", delay=0.1)
    for n in range(4):
        await any_store.enqueue_alert(make_alert(f"a{n}"), ["s"], datetime.now(UTC))
    passing = asyncio.create_task(quick_outbox(any_store, sink, owner="a", ack_delay=0.005).deliver_due())
    await until_true(lambda: len(sink.sent) == 1)
    await asyncio.sleep(0.05)
    assert not passing.done()
    assert [d.alert.id for d in await any_store.deliveries(DeliveryStatus.DELIVERED)] == ["a0"]
    assert (await passing).delivered == 4


async def test_a_crash_before_the_outcome_is_written_resends_once_with_the_same_id(
    any_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "CLAIM_MARGIN_SECONDS", 0.0)
    store = CountingStore(any_store)
    store.acks_fail = True
    first, second = ScriptedSink("s"), ScriptedSink("s")
    await any_store.enqueue_alert(make_alert(), ["s"], datetime.now(UTC))
    dying = quick_outbox(store, first, owner="a", pass_budget=0.05, send_timeout=0.05)
    with pytest.raises(StoreError):
        await dying.deliver_due()
    assert await quick_outbox(any_store, second, owner="b").deliver_due() == DeliveryStats()  # claimed
    await asyncio.sleep(0.15)  # the dead replica's claim expires
    taker = quick_outbox(any_store, second, owner="b")
    assert (await taker.deliver_due()).delivered == 1
    assert (await taker.deliver_due()).delivered == 0
    assert first.sent == second.sent == ["abc123"]
    # Should the first replica come back and write its outcome, the newer claim stands.
    store.acks_fail = False
    with structlog.testing.capture_logs() as logs:
        await dying.close()
    assert any(e["event"] == "delivery_outcome_refused" for e in logs)
    [delivery] = await any_store.deliveries()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1)


async def test_outcomes_a_failed_write_kept_are_written_on_close(any_store: Store) -> None:
    store = CountingStore(any_store)
    store.acks_fail = True
    sink = ScriptedSink("s")
    await any_store.enqueue_alert(make_alert(), ["s"], datetime.now(UTC))
    box = quick_outbox(store, sink, owner="a")
    with pytest.raises(StoreError):
        await box.deliver_due()
    store.acks_fail = False
    await box.close()
    assert [d.status for d in await any_store.deliveries()] == [DeliveryStatus.DELIVERED]
    assert await quick_outbox(any_store, ScriptedSink("s"), owner="b").deliver_due() == DeliveryStats()


async def test_an_outcome_write_the_embedded_store_rolled_back_is_written_again_not_resent(
    store: EmbeddedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transient SQLite failure (disk full, I/O) mid-transaction leaves the claims standing."""
    from service.state import embedded as embedded_module

    real, failures = embedded_module._apply_ack, [sqlite3.OperationalError("database or disk is full")]

    def failing_once(db: sqlite3.Connection, ack: Any) -> bool:
        if failures:
            raise failures.pop()
        return real(db, ack)

    monkeypatch.setattr(embedded_module, "_apply_ack", failing_once)
    await store.enqueue_alert(make_alert(), ["s"], datetime.now(UTC))
    sink = ScriptedSink("s")
    box = quick_outbox(store, sink, owner="a")
    with structlog.testing.capture_logs() as logs:
        with pytest.raises(StoreError):
            await box.deliver_due()  # sent; its outcome's write rolled back
        await box.deliver_due()  # the kept outcome is written first, so nothing is claimed again
        await box.deliver_due()
    assert sink.sent == ["abc123"]
    assert not any(e["event"] == "delivery_outcome_refused" for e in logs)
    [delivery] = await store.deliveries()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1)


async def test_two_replicas_passing_at_once_send_every_alert_once(any_store: Store) -> None:
    a, b = ScriptedSink("s", delay=0.001), ScriptedSink("s", delay=0.001)
    for n in range(60):
        await any_store.enqueue_alert(make_alert(f"a{n:02}"), ["s"], datetime.now(UTC))
    boxes = [quick_outbox(any_store, a, owner="a"), quick_outbox(any_store, b, owner="b")]
    while len(a.sent) + len(b.sent) < 60:
        await asyncio.gather(*(box.deliver_due(limit=25) for box in boxes))
    assert sorted(a.sent + b.sent) == [f"a{n:02}" for n in range(60)]
    assert a.sent and b.sent
    assert await any_store.outbox_depth() == 0


async def until_true(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.005)

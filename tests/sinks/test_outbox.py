"""The outbox: every (alert, sink) ends delivered or parked; a failing sink never holds up another."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog

from service.errors import PermanentDeliveryError, RetryLater
from service.models import Alert
from service.sinks.outbox import Outbox, RetryPolicy
from service.state.embedded import EmbeddedStore
from service.state.protocol import DeliveryStatus
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


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EmbeddedStore]:
    backend = EmbeddedStore(tmp_path / "state")
    await backend.open()
    yield backend
    await backend.close()


def outbox(store: EmbeddedStore, clock: FakeClock, *sinks: ScriptedSink, timeout: float = 5.0) -> Outbox:
    return Outbox(
        store,
        {s.name: s for s in sinks},
        clock=clock,
        log=structlog.get_logger(),
        policy=RetryPolicy(base_delay=10, max_delay=100, max_attempts=3),
        rng=random.Random(1),
        send_timeout=timeout,
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

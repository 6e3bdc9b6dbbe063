"""The poll scheduler on real stores: it keeps pace, spreads first polls, keeps per-host limits,
exports and logs how late polls start, and shares the polls between replicas."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
import structlog

from service.clock import utcnow
from service.logs import get_logger
from service.models import Feed
from service.pipeline import PollOutcome
from service.sources.rss import RssReader
from service.state.embedded import EmbeddedStore
from service.state.redis_store import RedisStore
from service.worker import BEHIND_AFTER, START_RATE, PollScheduler
from tests.conftest import REDIS_URL


@dataclass
class FakePipeline:
    """Polls that take `seconds` and report when they ran (the scheduler only sees outcomes)."""

    seconds: float = 0.0
    interval: float = 300.0
    clock: Callable[[], datetime] = utcnow
    started: list[tuple[str, float]] = field(default_factory=list)
    running: Counter[str] = field(default_factory=Counter)
    most_running: Counter[str] = field(default_factory=Counter)
    polls: Counter[str] = field(default_factory=Counter)
    busy: set[str] = field(default_factory=set)  # share one between replicas to catch overlaps
    overlaps: list[str] = field(default_factory=list)

    async def poll(self, feed: Feed, *, fence: int | None = None, late: float | None = None) -> PollOutcome:
        host = feed.url.split("/")[2]
        if feed.name in self.busy:
            self.overlaps.append(feed.name)
        self.busy.add(feed.name)
        self.started.append((feed.name, asyncio.get_running_loop().time()))
        self.running[host] += 1
        self.most_running[host] = max(self.most_running[host], self.running[host])
        try:
            await asyncio.sleep(self.seconds)
        finally:
            self.running[host] -= 1
            self.busy.discard(feed.name)
        self.polls[feed.name] += 1
        return PollOutcome(feed.name, "fetched", next_poll=self.clock() + timedelta(seconds=self.interval))


@dataclass
class Lags:
    started: list[float] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)

    def poll_started(self, lag: float) -> None:
        self.started.append(lag)

    def polls_waiting(self, count: int) -> None:
        self.waiting.append(count)

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def feeds(count: int, *, hosts: int = 1000, interval: float = 300.0, prefix: str = "f") -> list[Feed]:
    return [
        Feed(f"{prefix}{i}", f"https://{prefix}host{i % hosts}.example/feed", RssReader(), interval=interval)
        for i in range(count)
    ]


def scheduler(store: Any, pipeline: FakePipeline, **options: Any) -> PollScheduler:
    options.setdefault("owner", "test")
    options.setdefault("concurrency", 20)
    options.setdefault("clock", pipeline.clock)
    return PollScheduler(pipeline, store, log=get_logger(), **options)  # type: ignore[arg-type]


async def run_for(schedulers: list[PollScheduler], seconds: float) -> None:
    stop = asyncio.Event()
    running = [asyncio.create_task(s.run(stop)) for s in schedulers]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*running)
    for s in schedulers:
        await s.drain(5)


async def test_a_freed_slot_takes_the_next_due_feed_at_once_with_no_per_second_cap(
    store: EmbeddedStore,
) -> None:
    # 300 polls of 20 ms on 10 slots: slot-bound, about 0.6 s. A scheduler that looked once a second
    # could start at most 10 polls a second (30 s).
    pipeline = FakePipeline(seconds=0.02)
    poller = scheduler(store, pipeline, concurrency=10)
    await poller.set_feeds(feeds(300, interval=3600))
    await store.schedule_feeds({f"f{i}": utcnow() for i in range(300)})  # all due now, no spreading
    await run_for([poller], 3.0)
    assert len(pipeline.polls) == 300 and set(pipeline.polls.values()) == {1}
    times = sorted(t for _, t in pipeline.started)
    assert times[-1] - times[0] < 2.0


async def test_first_polls_are_spread_at_the_start_rate_and_a_few_feeds_start_at_once(
    store: EmbeddedStore,
) -> None:
    now = utcnow()
    poller = scheduler(store, FakePipeline(), clock=lambda: now)
    await poller.set_feeds(feeds(3))
    glance = await store.glance(now + timedelta(seconds=1), 10)
    assert glance.due_count == 3 and all(due - now < timedelta(seconds=0.2) for _, due in glance.due)

    many = feeds(1000, prefix="m")
    await poller.set_feeds(many)
    window = 1000 / START_RATE  # 40 s, shorter than the 300 s interval
    dues = sorted(due for _, due in (await store.glance(now + timedelta(days=1), 2000)).due)
    assert (dues[0] - now).total_seconds() < 0.1
    assert window * 0.95 < (dues[-1] - now).total_seconds() <= window
    # Evenly: each tenth of the window holds a tenth of the first polls.
    per_tenth = Counter(int((d - now).total_seconds() / window * 10) for d in dues)
    assert all(95 <= per_tenth[k] <= 105 for k in range(10)), per_tenth


async def test_first_polls_never_spread_beyond_the_interval(store: EmbeddedStore) -> None:
    now = utcnow()
    poller = scheduler(store, FakePipeline(), clock=lambda: now)
    await poller.set_feeds(feeds(5000, interval=60))  # 200 s at the start rate, but 60 s interval
    dues = [due for _, due in (await store.glance(now + timedelta(days=1), 6000)).due]
    assert max(dues) - now <= timedelta(seconds=60)


async def test_a_feed_that_keeps_its_due_time_in_the_store_is_not_moved_by_a_restart(
    store: EmbeddedStore,
) -> None:
    now = utcnow()
    await store.schedule_feed("f0", now + timedelta(minutes=3))
    await scheduler(store, FakePipeline(), clock=lambda: now).set_feeds(feeds(2))
    dues = dict((await store.glance(now + timedelta(days=1), 10)).due)
    assert dues["f0"] == now + timedelta(minutes=3)


async def test_one_busy_host_holds_at_most_its_limit_and_other_hosts_go_ahead(store: EmbeddedStore) -> None:
    pipeline = FakePipeline(seconds=0.05)
    poller = scheduler(store, pipeline, concurrency=20, per_host=2)
    crowded = feeds(40, hosts=1)  # every one on host0.example
    others = feeds(10, hosts=10, prefix="o")
    await poller.set_feeds([*crowded, *others])
    now = utcnow()
    # The crowded host's feeds are the most overdue: they come first in every look.
    await store.schedule_feeds({f.name: now - timedelta(seconds=60) for f in crowded})
    await store.schedule_feeds({f.name: now for f in others})
    await run_for([poller], 0.5)
    assert pipeline.most_running["fhost0.example"] == 2
    first_others = min(t for name, t in pipeline.started if name.startswith("o"))
    first_crowded = min(t for name, t in pipeline.started if name.startswith("f"))
    assert first_others - first_crowded < 0.1, "other hosts did not wait behind the crowded one"


async def test_how_late_polls_start_is_exported_and_a_minute_behind_is_logged(store: EmbeddedStore) -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    telemetry = Lags()
    pipeline = FakePipeline(seconds=0.05, clock=lambda: now)
    poller = scheduler(store, pipeline, concurrency=2, telemetry=telemetry, clock=lambda: now)
    await poller.set_feeds(feeds(5))
    await store.schedule_feeds({f"f{i}": now - timedelta(seconds=90 + i) for i in range(5)})
    with structlog.testing.capture_logs() as logs:
        await poller.tick()
        await poller.tick()  # nothing free: no second warning, no look
        await poller.drain(5)
        await poller.tick()
        await poller.drain(5)
        await poller.tick()
        await poller.drain(5)
    assert sorted(telemetry.started, reverse=True) == [94.0, 93.0, 92.0, 91.0, 90.0]
    assert telemetry.waiting[:3] == [3, 1, 0]
    behind = [entry for entry in logs if entry["event"] == "polls_behind"]
    assert len(behind) == 1 and behind[0]["due"] == 3 and behind[0]["oldest_late_s"] == 92.0
    assert behind[0]["log_level"] == "warning"
    assert [entry["event"] for entry in logs].count("polls_caught_up") == 1
    assert BEHIND_AFTER == 60.0


async def test_a_scheduler_that_keeps_pace_logs_nothing_about_lag(store: EmbeddedStore) -> None:
    pipeline = FakePipeline(seconds=0.01, interval=0.2)
    poller = scheduler(store, pipeline, concurrency=5)
    await poller.set_feeds(feeds(10, interval=0.2))
    with structlog.testing.capture_logs() as logs:
        await run_for([poller], 1.5)
    assert not [e for e in logs if e["event"] in ("polls_behind", "store_unavailable")]
    # Every feed was polled about every 0.2 s: the loop woke for each due time, not once a second.
    assert all(polls >= 4 for polls in pipeline.polls.values()), pipeline.polls


async def test_replicas_share_the_polls_and_never_poll_one_feed_at_once(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    busy: set[str] = set()
    overlaps: list[str] = []
    pipelines = [FakePipeline(seconds=0.02, interval=0.3, busy=busy, overlaps=overlaps) for _ in range(2)]
    stores = [RedisStore(REDIS_URL, prefix=redis_prefix) for _ in range(2)]
    for s in stores:
        await s.open()
    try:
        pollers = [
            scheduler(s, p, owner=f"replica{n}", rng=random.Random(n))
            for n, (s, p) in enumerate(zip(stores, pipelines, strict=True))
        ]
        for poller in pollers:
            await poller.set_feeds(feeds(8, interval=0.3))
        await run_for(pollers, 3.0)
    finally:
        for s in stores:
            await s.close()
    first, second = (sum(p.polls.values()) for p in pipelines)
    assert first >= 12 and second >= 12, (first, second)  # shared, not one replica taking them all
    assert overlaps == []
    # Together no more than one process would: at most one poll per feed per interval (3 s / 0.3 s).
    for i in range(8):
        assert pipelines[0].polls[f"f{i}"] + pipelines[1].polls[f"f{i}"] <= 3.0 / 0.3 + 2


async def test_a_resized_scheduler_starts_more_polls_at_its_next_look(store: EmbeddedStore) -> None:
    pipeline = FakePipeline(seconds=0.3)
    poller = scheduler(store, pipeline, concurrency=1)
    await poller.set_feeds(feeds(4))
    await store.schedule_feeds({f"f{i}": utcnow() - timedelta(seconds=1) for i in range(4)})
    await poller.tick()
    assert poller.in_flight == 1
    poller.concurrency = 4  # a reload under concurrency = "auto" that added feeds
    await poller.tick()
    assert poller.in_flight == 4
    await poller.drain(5)


async def test_feeds_whose_due_times_the_store_lost_get_them_back_spread(store: EmbeddedStore) -> None:
    now = utcnow()
    poller = scheduler(store, FakePipeline(), clock=lambda: now)
    await poller.set_feeds(feeds(100))
    for i in range(100):
        await store.unschedule_feed(f"f{i}")  # as after a Redis restart without persistence
    await poller.tick()
    dues = sorted(due for _, due in (await store.glance(now + timedelta(days=1), 200)).due)
    assert len(dues) == 100
    assert dues[0] == now and (dues[-1] - now).total_seconds() == pytest.approx(99 / START_RATE)

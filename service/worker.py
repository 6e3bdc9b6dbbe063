"""Runs the pipeline over the feeds: once (`run --once`), or for as long as the service lives."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from service.errors import StoreError
from service.models import Feed
from service.pipeline import Pipeline, PollOutcome
from service.sinks.outbox import DeliveryStats, Outbox
from service.state.protocol import DeliveryStatus, Store


@dataclass(slots=True)
class RunReport:
    polls: list[PollOutcome] = field(default_factory=list)
    delivery: DeliveryStats = field(default_factory=DeliveryStats)
    pending: int = 0

    @property
    def failed_feeds(self) -> list[str]:
        return [p.feed for p in self.polls if p.status == "failed"]


async def poll_all(pipeline: Pipeline, feeds: Sequence[Feed], concurrency: int) -> list[PollOutcome]:
    """Poll every enabled feed once, at most `concurrency` at a time; one feed's failure is its own."""
    gate = asyncio.Semaphore(concurrency)

    async def one(feed: Feed) -> PollOutcome:
        async with gate:
            return await pipeline.poll(feed)

    return list(await asyncio.gather(*(one(f) for f in feeds if f.enabled)))


async def settle(
    outbox: Outbox, store: Store, *, clock: Callable[[], datetime], deadline: float, log: Any
) -> tuple[DeliveryStats, int]:
    """Deliver until nothing is due, waiting for retries that fall within `deadline` seconds."""
    total = DeliveryStats()
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        stats = await outbox.deliver_due()
        _add(total, stats)
        pending = await store.deliveries(DeliveryStatus.PENDING)
        if not pending:
            return total, 0
        wait = min((d.next_attempt or clock()) for d in pending) - clock()
        remaining = end - loop.time()
        if wait.total_seconds() > remaining:
            log.warning("deliveries_pending", count=len(pending), reason="retries fall after this run")
            return total, len(pending)
        await asyncio.sleep(max(0.0, wait.total_seconds()))


async def run_once(
    pipeline: Pipeline,
    outbox: Outbox,
    store: Store,
    feeds: Sequence[Feed],
    *,
    concurrency: int,
    clock: Callable[[], datetime],
    settle_seconds: float,
    log: Any,
) -> RunReport:
    report = RunReport()
    report.polls = await poll_all(pipeline, feeds, concurrency)
    report.delivery, report.pending = await settle(
        outbox, store, clock=clock, deadline=settle_seconds, log=log
    )
    log.info(
        "run_completed",
        feeds=len(report.polls),
        failed=report.failed_feeds,
        alerts=sum(p.alerts for p in report.polls),
        delivered=report.delivery.delivered,
        parked=report.delivery.parked,
        pending=report.pending,
    )
    return report


def _add(total: DeliveryStats, stats: DeliveryStats) -> None:
    for sink, outcomes in stats.by_sink.items():
        for outcome, n in outcomes.items():
            for _ in range(n):
                total.count(sink, outcome)


STORE_RETRY_SECONDS = 10.0


class PollScheduler:
    """Starts each enabled feed's poll when it is due, at most `concurrency` at a time.

    A feed is never polled twice at once; a slow feed holds one slot and delays no other. The due time
    of each feed comes from its last poll (the store's `next_poll`), so a restart keeps the rhythm.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        concurrency: int,
        clock: Callable[[], datetime],
        on_alerts: Callable[[], None] = lambda: None,
        log: Any = None,
    ) -> None:
        self._pipeline = pipeline
        self._clock = clock
        self._on_alerts = on_alerts
        self._log = log
        self._gate = asyncio.Semaphore(concurrency)
        self._feeds: dict[str, Feed] = {}
        self._due: dict[str, datetime | None] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    @property
    def feeds(self) -> list[str]:
        return list(self._feeds)

    async def load_schedule(self, store: Store, feeds: Sequence[Feed]) -> None:
        """Pick up where the last run left off: due times and disabled feeds from the store."""
        for state in await store.all_feed_states():
            self._due[state.name] = None if state.disabled_reason else state.next_poll
        self.set_feeds(feeds)

    def set_feeds(self, feeds: Sequence[Feed]) -> tuple[list[str], list[str]]:
        """Replace the feed list (a reload); returns the names added and removed."""
        wanted = {f.name: f for f in feeds if f.enabled}
        added = [n for n in wanted if n not in self._feeds]
        removed = [n for n in self._feeds if n not in wanted]
        for name in added:
            self._due.setdefault(name, self._clock())
        self._feeds = wanted
        return added, removed

    def start_due(self) -> int:
        now, started = self._clock(), 0
        for name, feed in self._feeds.items():
            due = self._due.get(name, now)
            if name in self._tasks or due is None or due > now:
                continue
            self._tasks[name] = asyncio.create_task(self._run(feed), name=f"poll:{name}")
            started += 1
        return started

    async def _run(self, feed: Feed) -> None:
        try:
            async with self._gate:
                outcome = await self._pipeline.poll(feed)
            self._due[feed.name] = self._next_due(feed, outcome)
            if outcome.alerts:
                self._on_alerts()
        except StoreError as exc:
            # The store is down: try this feed again soon; nothing was remembered, so nothing is lost.
            self._due[feed.name] = self._clock() + timedelta(seconds=STORE_RETRY_SECONDS)
            if self._log is not None:
                self._log.error("store_unavailable", feed=feed.name, error=str(exc))
        finally:
            self._tasks.pop(feed.name, None)

    def _next_due(self, feed: Feed, outcome: PollOutcome) -> datetime | None:
        if outcome.status == "disabled":
            return None
        return outcome.next_poll or self._clock() + timedelta(seconds=feed.interval)

    async def drain(self, seconds: float) -> None:
        """Let polls in flight finish, for at most `seconds`."""
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=seconds)

    async def cancel(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

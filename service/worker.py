"""Runs the pipeline over the feeds: once (`run --once`), or for as long as the service lives."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from service.errors import StoreError
from service.logs import Logger
from service.models import Feed
from service.pipeline import Pipeline, PollOutcome
from service.sinks.outbox import DeliveryStats, Outbox
from service.state.protocol import DeliveryStatus, SchedulerStore, StoreViews


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
    outbox: Outbox, store: StoreViews, *, clock: Callable[[], datetime], deadline: float, log: Logger
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
    store: StoreViews,
    feeds: Sequence[Feed],
    *,
    concurrency: int,
    clock: Callable[[], datetime],
    settle_seconds: float,
    log: Logger,
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


RESEED_SECONDS = 5.0
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


class PollScheduler:
    """Starts each enabled feed's poll when it is due, at most `concurrency` at a time, on any number
    of replicas sharing one store.

    Due times live in the store (`schedule_feed` / `due_feeds`), so a restart keeps each feed's rhythm
    and replicas share one schedule. A replica polls a feed only under its lease (`acquire_lease`),
    renewed while the poll runs and fenced on the feed-state write, so the fleet polls each feed once
    per interval; a dead replica's lease expires and another takes the feed over. While a feed is
    polled its due time is pushed past the lease, so other replicas do not keep trying it. Every
    `RESEED_SECONDS` one query finds feeds that lost their due time (Redis restarted empty) and puts it
    back.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        store: SchedulerStore,
        *,
        owner: str,
        concurrency: int,
        clock: Callable[[], datetime],
        lease_ttl: float = 60.0,
        on_alerts: Callable[[], None] = lambda: None,
        log: Logger | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._store = store
        self._owner = owner
        self._concurrency = concurrency
        self._clock = clock
        self._lease_ttl = lease_ttl
        self._on_alerts = on_alerts
        self._log = log
        self._feeds: dict[str, Feed] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._seeded_at = -RESEED_SECONDS

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    @property
    def feeds(self) -> list[str]:
        return list(self._feeds)

    async def set_feeds(self, feeds: Sequence[Feed]) -> tuple[list[str], list[str]]:
        """Replace the feed list (start-up, reload); returns the names added and removed."""
        wanted = {f.name: f for f in feeds if f.enabled}
        added = [n for n in wanted if n not in self._feeds]
        removed = [n for n in self._feeds if n not in wanted]
        self._feeds = wanted
        now = self._clock()
        for name in added:
            await self._store.schedule_feed(name, now, if_absent=True)
        for name in removed:
            await self._store.unschedule_feed(name)
        return added, removed

    async def tick(self) -> int:
        """Start the polls that are due and free (one store query, then one lease call per feed)."""
        await self._reseed_now_and_then()
        room = self._concurrency - len(self._tasks)
        if room <= 0:
            return 0
        now, started = self._clock(), 0
        for name in await self._store.due_feeds(now, room + len(self._tasks)):
            feed = self._feeds.get(name)
            if feed is None or name in self._tasks or started >= room:
                continue
            token = await self._store.acquire_lease(name, self._owner, self._lease_ttl, now)
            if token is None:
                continue  # another replica is polling it
            await self._store.schedule_feed(name, now + timedelta(seconds=self._lease_ttl))
            self._tasks[name] = asyncio.create_task(self._run(feed, token), name=f"poll:{name}")
            started += 1
        return started

    async def _reseed_now_and_then(self) -> None:
        """Put back the due time of any configured feed the store no longer schedules (one query)."""
        loop_time = asyncio.get_running_loop().time()
        if loop_time - self._seeded_at < RESEED_SECONDS:
            return
        self._seeded_at = loop_time
        scheduled = set(await self._store.due_feeds(FAR_FUTURE, len(self._feeds) + 1000))
        now = self._clock()
        for name in self._feeds:
            if name not in scheduled and name not in self._tasks:
                await self._store.schedule_feed(name, now, if_absent=True)

    async def _run(self, feed: Feed, token: int) -> None:
        renewing = asyncio.create_task(self._renew(feed.name, token))
        try:
            outcome = await self._pipeline.poll(feed, fence=token)
            await self._reschedule(feed, outcome)
            if outcome.alerts:
                self._on_alerts()
        except StoreError as exc:
            # The store is down: nothing was remembered, so nothing is lost; the lease expires and
            # the feed is tried again (by whichever replica gets there first).
            if self._log is not None:
                self._log.error("store_unavailable", feed=feed.name, error=str(exc))
        finally:
            renewing.cancel()
            self._tasks.pop(feed.name, None)
            with contextlib.suppress(StoreError):
                await self._store.release_lease(feed.name, self._owner, token)

    async def _renew(self, feed: str, token: int) -> None:
        while True:
            await asyncio.sleep(self._lease_ttl / 3)
            try:
                held = await self._store.renew_lease(feed, self._owner, token, self._lease_ttl, self._clock())
            except StoreError:
                continue
            if not held and self._log is not None:
                self._log.warning("lease_lost", feed=feed)
                return

    async def _reschedule(self, feed: Feed, outcome: PollOutcome) -> None:
        if outcome.status == "disabled":
            await self._store.unschedule_feed(feed.name)
            return
        due = outcome.next_poll or self._clock() + timedelta(seconds=feed.interval)
        await self._store.schedule_feed(feed.name, due)

    async def drain(self, seconds: float) -> None:
        """Let polls in flight finish, for at most `seconds`."""
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=seconds)

    async def cancel(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

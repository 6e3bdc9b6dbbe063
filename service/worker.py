"""Runs the pipeline over the feeds: once (`run --once`), or for as long as the service lives."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from service.errors import StoreError
from service.logs import Logger
from service.models import Feed
from service.pipeline import Pipeline, PollOutcome
from service.sinks.outbox import DeliveryStats, Outbox
from service.state.protocol import DeliveryStatus, ScheduleGlance, SchedulerStore, StoreViews
from service.telemetry import NullTelemetry, Telemetry


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
FULL_RESEED_SECONDS = 60.0
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
# The loop looks at the schedule at least this often: a feed another replica rescheduled earlier, the
# heartbeat, reseeding. Between looks it sleeps until the next due time or until a slot frees.
MAX_PAUSE = 1.0
# Replicas waking for the same due time wake a few milliseconds apart, at random, so the one that wins
# the lease is not always the same (the fleet shares the polls instead of one replica taking them all).
WAKE_JITTER = 0.05
# Newly configured feeds (a first start, a reload adding many) have their first polls spread at this
# many per second, never over more than their interval: no burst of 50,000 polls at start-up, and a
# handful of feeds still starts at once.
START_RATE = 25.0
# Polls that start this late mean the scheduler is behind: it says so (at most once a minute).
BEHIND_AFTER = 60.0
# How far past the free slots a look reaches, so that feeds of a host already at its limit do not
# hide the due feeds of other hosts behind them.
LOOK_PAST = 64


class PollScheduler:
    """Starts each enabled feed's poll when it is due, at most `concurrency` at a time and
    `per_host` per host, on any number of replicas sharing one store.

    Due times live in the store (`schedule_feed` / `glance`), so a restart keeps each feed's rhythm
    and replicas share one schedule. `run` looks at the schedule, starts what is due and free, then
    sleeps until the next due time or, when due feeds wait for a slot, until a slot frees: there is
    no tick that caps how many polls start per second. A replica polls a feed only under its lease
    (`acquire_lease`), renewed while the poll runs and fenced on the feed-state write, so the fleet
    polls each feed once per interval; a dead replica's lease expires and another takes the feed
    over. While a feed is polled its due time is pushed to about its next one (at most the lease),
    so other replicas neither keep trying it nor sleep past its return, and replicas waking for one
    due time wake in random order: the fleet shares the polls. Feeds that lost their due time (Redis
    restarted empty) get it back.

    How late polls start is exported (`Telemetry.poll_started`, `polls_waiting`) and logged as
    `polls_behind` when the oldest due feed has waited a minute.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        store: SchedulerStore,
        *,
        owner: str,
        concurrency: int,
        clock: Callable[[], datetime],
        per_host: int = 4,
        lease_ttl: float = 60.0,
        on_alerts: Callable[[], None] = lambda: None,
        log: Logger | None = None,
        telemetry: Telemetry | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._store = store
        self._owner = owner
        self._concurrency = concurrency
        self._per_host = per_host
        self._clock = clock
        self._lease_ttl = lease_ttl
        self._on_alerts = on_alerts
        self._log = log
        self._telemetry: Telemetry = telemetry or NullTelemetry()
        self._rng = rng or random.Random()
        self._feeds: dict[str, Feed] = {}
        self._hosts: dict[str, str] = {}  # feed name → host, for feeds fetched over HTTP
        self._busy_hosts: Counter[str] = Counter()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._starved = False  # due feeds were left waiting for a slot at the last look
        self._next_look = FAR_FUTURE
        self._seeded_at = -RESEED_SECONDS
        self._fully_seeded_at = -FULL_RESEED_SECONDS
        self._behind_warned: float | None = None

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    @property
    def concurrency(self) -> int:
        return self._concurrency

    @concurrency.setter
    def concurrency(self, slots: int) -> None:
        """Resize (a reload under `concurrency = "auto"`); polls in flight beyond it finish first."""
        self._concurrency = max(1, slots)
        self._wake.set()

    @property
    def feeds(self) -> list[str]:
        return list(self._feeds)

    async def set_feeds(self, feeds: Sequence[Feed]) -> tuple[list[str], list[str]]:
        """Replace the feed list (start-up, reload); returns the names added and removed.

        A feed the store already schedules keeps its due time; a new one's first poll is spread
        (see START_RATE), as are those of feeds whose due times the store lost."""
        wanted = {f.name: f for f in feeds if f.enabled}
        added = [n for n in wanted if n not in self._feeds]
        removed = [n for n in self._feeds if n not in wanted]
        self._feeds = wanted
        self._hosts = {name: host for name, feed in wanted.items() if (host := _host(feed.url))}
        if added:
            await self._store.schedule_feeds(self._spread(added), if_absent=True)
        for name in removed:
            await self._store.unschedule_feed(name)
        self._wake.set()
        return added, removed

    async def run(self, stop: asyncio.Event, beat: Callable[[], None] = lambda: None) -> None:
        """Start polls as they fall due until `stop` is set (`beat` is called on every look)."""
        stopping = asyncio.create_task(stop.wait())
        stopping.add_done_callback(lambda _: self._wake.set())
        try:
            while not stop.is_set():
                beat()
                try:
                    pause = await self.tick()
                except StoreError as exc:
                    if self._log is not None:
                        self._log.error("store_unavailable", error=str(exc))
                    pause = MAX_PAUSE
                self._next_look = self._clock() + timedelta(seconds=pause)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), pause)
        finally:
            stopping.cancel()

    async def tick(self) -> float:
        """Start the polls that are due and free (one look at the schedule, then one lease call per
        feed started); returns how many seconds to wait before the next look, unless woken."""
        self._wake.clear()
        room = self._concurrency - len(self._tasks)
        if room <= 0:
            self._starved = True
            return MAX_PAUSE
        now = self._clock()
        loop_time = asyncio.get_running_loop().time()
        reseed = loop_time - self._seeded_at >= RESEED_SECONDS
        glance = await self._store.glance(now, room + len(self._tasks) + LOOK_PAST, count_all=reseed)
        if reseed:
            self._seeded_at = loop_time
            await self._reseed(glance.scheduled or 0, loop_time)
        started: set[str] = set()
        refused = 0
        for name, due in glance.due:
            if len(started) >= room:
                break
            feed = self._feeds.get(name)
            host = self._hosts.get(name)
            if feed is None or name in self._tasks or (host and self._busy_hosts[host] >= self._per_host):
                continue
            token = await self._store.acquire_lease(name, self._owner, self._lease_ttl, now)
            if token is None:
                refused += 1  # another replica is polling it
                continue
            # Pushed out while it is polled, so other replicas do not keep trying it: to about when
            # it is due again, so they know when to look (never past the lease, after which a
            # dead replica's feed is taken over).
            push = min(feed.interval, self._lease_ttl)
            await self._store.schedule_feed(name, now + timedelta(seconds=push))
            late = (now - due).total_seconds()
            self._telemetry.poll_started(late)
            self._start(feed, token, host, late)
            started.add(name)
        unknown = sum(1 for name, _ in glance.due if name not in self._feeds)
        waiting = max(0, glance.due_count - len(started) - unknown - refused)
        self._telemetry.polls_waiting(waiting)
        self._watch_lag(glance, started, now, waiting)
        self._starved = waiting > 0
        if self._starved:
            return MAX_PAUSE
        if refused:
            # Another replica took them as this one looked: look again once it has rescheduled them.
            return self._rng.uniform(0.0, WAKE_JITTER)
        if glance.next_due is None:
            return MAX_PAUSE
        until = (glance.next_due - now).total_seconds()
        return min(MAX_PAUSE, max(0.0, until) + self._rng.uniform(0.0, WAKE_JITTER))

    def _start(self, feed: Feed, token: int, host: str | None, late: float) -> None:
        if host:
            self._busy_hosts[host] += 1
        running = self._run(feed, token, host, late)
        self._tasks[feed.name] = asyncio.create_task(running, name=f"poll:{feed.name}")

    def _watch_lag(self, glance: ScheduleGlance, started: set[str], now: datetime, waiting: int) -> None:
        if self._log is None:
            return
        left = [due for name, due in glance.due if name not in started and name in self._feeds]
        late = (now - left[0]).total_seconds() if left else 0.0
        loop_time = asyncio.get_running_loop().time()
        if late >= BEHIND_AFTER:
            if self._behind_warned is None or loop_time - self._behind_warned >= BEHIND_AFTER:
                self._behind_warned = loop_time
                self._log.warning(
                    "polls_behind",
                    due=waiting,
                    oldest_late_s=round(late, 1),
                    in_flight=len(self._tasks),
                    concurrency=self._concurrency,
                    hint="raise service.concurrency, or lengthen poll intervals",
                )
        elif self._behind_warned is not None and late < BEHIND_AFTER / 2:
            self._behind_warned = None
            self._log.info("polls_caught_up", due=waiting)

    async def _reseed(self, scheduled_count: int, loop_time: float) -> None:
        """Put back the due time of any configured feed the store no longer schedules (every
        RESEED_SECONDS): when the store holds fewer due times than there are feeds, and once a
        minute in any case (another replica's config may schedule feeds this one does not have)."""
        if scheduled_count >= len(self._feeds) and loop_time - self._fully_seeded_at < FULL_RESEED_SECONDS:
            return
        self._fully_seeded_at = loop_time
        scheduled = set(await self._store.due_feeds(FAR_FUTURE, scheduled_count + len(self._feeds) + 1000))
        lost = [n for n in self._feeds if n not in scheduled and n not in self._tasks]
        if lost:
            await self._store.schedule_feeds(self._spread(lost), if_absent=True)

    def _spread(self, names: list[str]) -> dict[str, datetime]:
        """First due times for feeds the store does not schedule: START_RATE a second from now, and
        never later than each feed's interval."""
        now, count = self._clock(), len(names)
        return {
            name: now + timedelta(seconds=min(self._feeds[name].interval, count / START_RATE) * k / count)
            for k, name in enumerate(names)
        }

    async def _run(self, feed: Feed, token: int, host: str | None, late: float) -> None:
        renewing = asyncio.create_task(self._renew(feed.name, token))
        try:
            outcome = await self._pipeline.poll(feed, fence=token, late=max(0.0, late))
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
            if host:
                self._busy_hosts[host] -= 1
                if self._busy_hosts[host] <= 0:
                    del self._busy_hosts[host]
            with contextlib.suppress(StoreError):
                await self._store.release_lease(feed.name, self._owner, token)
            if self._starved:
                self._wake.set()  # a slot is free and feeds are waiting for one

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
        if due < self._next_look:
            self._wake.set()  # due before the loop meant to look again (a short interval)

    async def drain(self, seconds: float) -> None:
        """Let polls in flight finish, for at most `seconds`."""
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=seconds)

    async def cancel(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _host(url: str) -> str | None:
    """The host a feed is fetched from, for the per-host limit (None: not fetched over HTTP)."""
    if not url.lower().startswith(("http://", "https://")):
        return None
    return (urlsplit(url).hostname or "").lower() or None

"""Runs the pipeline over the feeds: once (`run --once`), or for as long as the service lives."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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

"""The poll scheduler: polls start as soon as a slot frees, not once a tick."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from service.models import Feed
from service.pipeline import PollOutcome
from service.sources.rss import RssReader
from service.state.embedded import EmbeddedStore
from service.worker import PollScheduler

POLL_SECONDS = 0.02


class SlowPipeline:
    """Every poll takes POLL_SECONDS and asks to be polled again in an hour."""

    def __init__(self) -> None:
        self.polled: list[str] = []

    async def poll(self, feed: Feed, *, fence: int | None = None) -> PollOutcome:
        await asyncio.sleep(POLL_SECONDS)
        self.polled.append(feed.name)
        return PollOutcome(feed.name, "not_modified", next_poll=datetime.now(UTC) + timedelta(hours=1))


async def test_polls_start_as_slots_free_so_two_slots_poll_far_more_than_two_feeds_a_second(
    tmp_path: Path,
) -> None:
    store = EmbeddedStore(tmp_path / "state")
    await store.open()
    pipeline = SlowPipeline()
    scheduler = PollScheduler(
        pipeline,  # type: ignore[arg-type]
        store,
        owner="me",
        concurrency=2,
        clock=lambda: datetime.now(UTC),
    )
    feeds = [Feed(name=f"f{n}", url=f"https://f{n}.example/", reader=RssReader()) for n in range(40)]
    await scheduler.set_feeds(feeds)
    stop = asyncio.Event()
    started = time.monotonic()
    try:
        while len(pipeline.polled) < len(feeds) and time.monotonic() - started < 10:
            await scheduler.tick()
            assert scheduler.in_flight <= 2
            await scheduler.wait(stop, 1.0)
        elapsed = time.monotonic() - started
    finally:
        await scheduler.drain(5)
        await store.close()
    assert sorted(pipeline.polled) == sorted(f.name for f in feeds)
    # A tick-bound scheduler would start two polls a second: twenty seconds for forty feeds.
    assert elapsed < 5, elapsed


async def test_waiting_ends_at_once_when_asked_to_stop(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "state")
    await store.open()
    scheduler = PollScheduler(
        SlowPipeline(),  # type: ignore[arg-type]
        store,
        owner="me",
        concurrency=1,
        clock=lambda: datetime.now(UTC),
    )
    stop = asyncio.Event()
    stop.set()
    started = time.monotonic()
    await scheduler.wait(stop, 30)
    assert time.monotonic() - started < 1
    await store.close()

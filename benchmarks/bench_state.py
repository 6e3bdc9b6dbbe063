"""Benchmark the state layer: item dedup and story dedup on both stores, at two sizes.

    .venv/bin/python benchmarks/bench_state.py            # 10k and 1M remembered items and stories
    .venv/bin/python benchmarks/bench_state.py --quick    # 10k and 100k

For each store and size it pre-loads that many remembered items (1,000 per feed) and stories, then
measures:

- dedup items/s: feed polls of 50 ids (45 already seen, 5 new) through unseen_items + remember_items;
- Redis round trips per poll, counted on the client's connections (one packed send = one trip);
- bytes per remembered item and per story (Redis: MEMORY USAGE of the seen keys, and the server's
  used_memory growth for stories, so other clients of a shared server add noise; SQLite: file growth);
- story lookup µs (median): find_or_add_story for a new story and for a near copy of a stored one,
  and for Redis the script's own server-side µs per call (from INFO commandstats).

Stories are synthetic fingerprints (random signatures with their real band keys), so the pre-load
does not pay for MinHash; `fingerprint()` on the seed article is timed on its own. Redis runs on db
14 of --redis-url under a unique prefix whose keys are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import redis.asyncio as aioredis  # noqa: E402
from redis.asyncio.connection import AbstractConnection  # noqa: E402

from service.state import embedded_stories  # noqa: E402
from service.state.embedded import EmbeddedStore  # noqa: E402
from service.state.embedded_stories import StoryRequest  # noqa: E402
from service.state.fingerprint import SIGNATURE_SIZE, Fingerprint, band_keys, fingerprint  # noqa: E402
from service.state.redis_store import RedisStore  # noqa: E402

NOW = datetime(2021, 6, 10, 8, 0, tzinfo=UTC)
ITEMS_PER_FEED = 1000
BATCH, NEW_PER_BATCH = 50, 5
POLLS = 1000
LOOKUPS = 1000
COPY_CHANGES = 12  # signature values changed in a "near copy": estimated similarity 52/64 = 0.81


@dataclass
class Row:
    backend: str
    size: int
    dedup_items_per_s: float = 0.0
    round_trips_per_poll: float | None = None
    bytes_per_item: float = 0.0
    story_new_us: float = 0.0
    story_copy_us: float = 0.0
    story_server_us: float | None = None
    bytes_per_story: float = 0.0
    preload_s: float = 0.0


class TripCounter:
    """Counts packed sends on every redis-py asyncio connection: one per command or pipeline."""

    def __init__(self) -> None:
        self.count = 0
        original = AbstractConnection.send_packed_command

        async def counted(conn: AbstractConnection, command: Any, check_health: bool = True) -> None:
            self.count += 1
            await original(conn, command, check_health)

        AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]


TRIPS = TripCounter()


# -- workloads ------------------------------------------------------------------------------------


def random_fp(rng: random.Random) -> Fingerprint:
    signature = tuple(rng.getrandbits(32) for _ in range(SIGNATURE_SIZE))
    return Fingerprint(signature, band_keys(signature))


def near_copy(fp: Fingerprint, rng: random.Random) -> Fingerprint:
    values = list(fp.signature)
    for index in rng.sample(range(SIGNATURE_SIZE), COPY_CHANGES):
        values[index] = rng.getrandbits(32)
    signature = tuple(values)
    return Fingerprint(signature, band_keys(signature))


async def preload_items(store: Any, size: int) -> None:
    for feed in range(max(1, size // ITEMS_PER_FEED)):
        ids = [f"item-{feed}-{n}" for n in range(ITEMS_PER_FEED)]
        await store.remember_items(f"feed-{feed}", ids, NOW)


async def dedup_rate(store: Any, size: int, rng: random.Random) -> tuple[float, float]:
    """Items/s and round trips per poll over POLLS simulated feed polls."""
    feeds = max(1, size // ITEMS_PER_FEED)
    trips_before, started = TRIPS.count, time.perf_counter()
    for poll in range(POLLS):
        feed = rng.randrange(feeds)
        known = [f"item-{feed}-{n}" for n in rng.sample(range(ITEMS_PER_FEED), BATCH - NEW_PER_BATCH)]
        ids = known + [f"new-{poll}-{n}" for n in range(NEW_PER_BATCH)]
        fresh = await store.unseen_items(f"feed-{feed}", ids, NOW)
        await store.remember_items(f"feed-{feed}", fresh, NOW)
    elapsed = time.perf_counter() - started
    return POLLS * BATCH / elapsed, (TRIPS.count - trips_before) / POLLS


async def story_latency(store: Any, stored: list[Fingerprint], rng: random.Random) -> tuple[float, float]:
    """Median µs of find_or_add_story for a brand-new story and for a near copy of a stored one."""
    new, copies = [], []
    for n in range(LOOKUPS):
        fresh, copy = random_fp(rng), near_copy(rng.choice(stored), rng)
        new.append(await timed(lambda n=n, fp=fresh: store.find_or_add_story(f"new\x1f{n}", fp, "x", NOW)))
        copies.append(await timed(lambda n=n, fp=copy: store.find_or_add_story(f"copy\x1f{n}", fp, "y", NOW)))
    return statistics.median(new) * 1e6, statistics.median(copies) * 1e6


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


# -- backends -------------------------------------------------------------------------------------


async def bench_embedded(size: int, stories: list[Fingerprint]) -> Row:
    row, rng = Row("embedded", size), random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "state"
        store = EmbeddedStore(directory)
        await store.open()
        before = disk_bytes(directory)
        await preload_items(store, size)
        store = await reopen(store)
        row.bytes_per_item = (disk_bytes(directory) - before) / size
        row.dedup_items_per_s, _ = await dedup_rate(store, size, rng)
        before, started = disk_bytes(directory), time.perf_counter()
        await preload_embedded_stories(store, stories)
        row.preload_s = time.perf_counter() - started
        store = await reopen(store)
        row.bytes_per_story = (disk_bytes(directory) - before) / len(stories)
        row.story_new_us, row.story_copy_us = await story_latency(store, stories, rng)
        await store.close()
    return row


async def preload_embedded_stories(store: EmbeddedStore, stories: list[Fingerprint]) -> None:
    stamp = NOW.timestamp()
    for start in range(0, len(stories), 10_000):
        chunk = list(enumerate(stories[start : start + 10_000], start))
        requests = [
            StoryRequest(f"s\x1f{n}", fp, f"feed-{n % 500}", stamp, store.story_ttl) for n, fp in chunk
        ]
        await store._run(lambda db, rs=requests: load_stories(db, rs))


def load_stories(db: sqlite3.Connection, requests: list[StoryRequest]) -> None:
    """Many stories in one transaction: the same code path, without a commit per story."""
    with db:
        for request in requests:
            embedded_stories.find_or_add_story(db, request)


async def reopen(store: EmbeddedStore) -> EmbeddedStore:
    """Close (SQLite checkpoints the WAL into the file) and open again, for an honest file size."""
    await store.close()
    again = EmbeddedStore(store.directory)
    await again.open()
    return again


def disk_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.glob("newsalert.sqlite3*"))


async def bench_redis(url: str, size: int, stories: list[Fingerprint]) -> Row:
    row, rng = Row("redis", size), random.Random(1)
    prefix = f"newsalert-bench:{uuid.uuid4().hex[:8]}:"
    store = RedisStore(url, prefix=prefix)
    await store.open()
    try:
        await preload_items(store, size)
        row.bytes_per_item = await key_bytes(store.redis, f"{prefix}seen:*") / size
        row.dedup_items_per_s, row.round_trips_per_poll = await dedup_rate(store, size, rng)
        before, started = await used_memory(store.redis), time.perf_counter()
        await preload_redis_stories(store, stories)
        row.preload_s = time.perf_counter() - started
        row.bytes_per_story = (await used_memory(store.redis) - before) / len(stories)
        calls, usec = await script_stats(store.redis)
        row.story_new_us, row.story_copy_us = await story_latency(store, stories, rng)
        calls_after, usec_after = await script_stats(store.redis)
        row.story_server_us = (usec_after - usec) / max(1, calls_after - calls)
    finally:
        await delete_keys(store.redis, f"{prefix}*")
        await store.close()
    return row


async def preload_redis_stories(store: RedisStore, stories: list[Fingerprint]) -> None:
    await store.find_or_add_story("warm-up", None, "x", NOW)  # loads the script into the server
    for start in range(0, len(stories), 2000):
        pipe = store.redis.pipeline(transaction=False)
        for n, fp in enumerate(stories[start : start + 2000], start):
            keys, args = store.story_call(f"s\x1f{n}", fp, f"feed-{n % 500}", NOW)
            pipe.evalsha(store.story_script_sha, len(keys), *keys, *args)
        await pipe.execute()


async def key_bytes(client: aioredis.Redis, pattern: str) -> int:
    total, keys = 0, [k async for k in client.scan_iter(match=pattern, count=5000)]
    for start in range(0, len(keys), 5000):
        pipe = client.pipeline(transaction=False)
        for key in keys[start : start + 5000]:
            pipe.memory_usage(key, samples=0)
        total += sum(n or 0 for n in await pipe.execute())
    return total


async def script_stats(client: aioredis.Redis) -> tuple[int, int]:
    """Server-side EVALSHA calls and µs so far: the story script's cost without the client's."""
    stats = (await client.info("commandstats")).get("cmdstat_evalsha", {})
    return int(stats.get("calls", 0)), int(stats.get("usec", 0))


async def used_memory(client: aioredis.Redis) -> int:
    """The server's allocated bytes: for millions of story keys, cheaper than MEMORY USAGE on each."""
    return int((await client.info("memory"))["used_memory"])


async def delete_keys(client: aioredis.Redis, pattern: str) -> None:
    batch: list[str] = []
    async for key in client.scan_iter(match=pattern, count=5000):
        batch.append(key)
        if len(batch) >= 5000:
            await client.unlink(*batch)
            batch.clear()
    if batch:
        await client.unlink(*batch)


# -- report ---------------------------------------------------------------------------------------


def fingerprint_cost() -> float:
    text = (REPO / "tests" / "fixtures" / "seed-article.txt").read_text(encoding="utf-8")
    started = time.perf_counter()
    for _ in range(50):
        fingerprint("", text)
    return (time.perf_counter() - started) / 50 * 1000


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'backend':9} {'size':>9} {'dedup items/s':>14} {'trips/poll':>10} {'B/item':>7} "
        f"{'story new µs':>12} {'story copy µs':>13} {'server µs':>9} {'B/story':>8} {'preload s':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        trips = "-" if r.round_trips_per_poll is None else f"{r.round_trips_per_poll:.2f}"
        server = "-" if r.story_server_us is None else f"{r.story_server_us:.0f}"
        print(
            f"{r.backend:9} {r.size:>9,} {r.dedup_items_per_s:>14,.0f} {trips:>10} {r.bytes_per_item:>7.0f} "
            f"{r.story_new_us:>12.0f} {r.story_copy_us:>13.0f} {server:>9} {r.bytes_per_story:>8.0f} "
            f"{r.preload_s:>9.1f}"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k instead of 10k and 1M")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--backend", choices=["both", "embedded", "redis"], default="both")
    args = parser.parse_args()
    sizes = (10_000, 100_000) if args.quick else (10_000, 1_000_000)
    print(f"fingerprint() of the seed article: {fingerprint_cost():.2f} ms", flush=True)
    rows = []
    for size in sizes:
        rng = random.Random(size)
        stories = [random_fp(rng) for _ in range(size)]
        # A million fingerprints held by the benchmark would otherwise cost every GC pass, and so
        # every measured call, more at 1M than at 10k: an artefact of the harness, not of the store.
        gc.collect()
        gc.freeze()
        if args.backend in ("both", "embedded"):
            rows.append(await bench_embedded(size, stories))
            print(f"embedded {size:,} done", file=sys.stderr, flush=True)
        if args.backend in ("both", "redis"):
            rows.append(await bench_redis(args.redis_url, size, stories))
            print(f"redis {size:,} done", file=sys.stderr, flush=True)
    print_table(rows)


if __name__ == "__main__":
    asyncio.run(main())

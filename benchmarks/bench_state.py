"""Benchmark the state layer's item dedup on both stores, at two sizes (the event index has its own
benchmark, `bench_link.py`).

    .venv/bin/python benchmarks/bench_state.py            # 10k and 1M remembered items
    .venv/bin/python benchmarks/bench_state.py --quick    # 10k and 100k

For each store and size it pre-loads that many remembered items (1,000 per feed), then measures:

- dedup items/s: feed polls of 50 ids (45 already seen, 5 new) through unseen_items + remember_items;
- Redis round trips per poll, counted on the client's connections (one packed send = one trip);
- bytes per remembered item (Redis: MEMORY USAGE of the seen keys; SQLite: file growth).

`fingerprint()` on the seed article is timed on its own. Redis runs on db 14 of --redis-url under a
unique prefix whose keys are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import redis.asyncio as aioredis  # noqa: E402
from redis.asyncio.connection import AbstractConnection  # noqa: E402

from service.state.embedded import EmbeddedStore  # noqa: E402
from service.state.fingerprint import fingerprint  # noqa: E402
from service.state.redis_store import RedisStore  # noqa: E402

NOW = datetime(2021, 6, 10, 8, 0, tzinfo=UTC)
ITEMS_PER_FEED = 1000
BATCH, NEW_PER_BATCH = 50, 5
POLLS = 1000


@dataclass
class Row:
    backend: str
    size: int
    dedup_items_per_s: float = 0.0
    round_trips_per_poll: float | None = None
    bytes_per_item: float = 0.0


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


# -- backends -------------------------------------------------------------------------------------


async def bench_embedded(size: int) -> Row:
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
        await store.close()
    return row


async def reopen(store: EmbeddedStore) -> EmbeddedStore:
    """Close (SQLite checkpoints the WAL into the file) and open again, for an honest file size."""
    await store.close()
    again = EmbeddedStore(store.directory)
    await again.open()
    return again


def disk_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.glob("newsalert.sqlite3*"))


async def bench_redis(url: str, size: int) -> Row:
    row, rng = Row("redis", size), random.Random(1)
    prefix = f"newsalert-bench:{uuid.uuid4().hex[:8]}:"
    store = RedisStore(url, prefix=prefix)
    await store.open()
    try:
        await preload_items(store, size)
        row.bytes_per_item = await key_bytes(store.redis, f"{prefix}seen:*") / size
        row.dedup_items_per_s, row.round_trips_per_poll = await dedup_rate(store, size, rng)
    finally:
        await delete_keys(store.redis, f"{prefix}*")
        await store.close()
    return row


async def key_bytes(client: aioredis.Redis, pattern: str) -> int:
    total, keys = 0, [k async for k in client.scan_iter(match=pattern, count=5000)]
    for start in range(0, len(keys), 5000):
        pipe = client.pipeline(transaction=False)
        for key in keys[start : start + 5000]:
            pipe.memory_usage(key, samples=0)
        total += sum(n or 0 for n in await pipe.execute())
    return total


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
    header = f"{'backend':9} {'size':>9} {'dedup items/s':>14} {'trips/poll':>10} {'B/item':>7}"
    print(header)
    print("-" * len(header))
    for r in rows:
        trips = "-" if r.round_trips_per_poll is None else f"{r.round_trips_per_poll:.2f}"
        print(
            f"{r.backend:9} {r.size:>9,} {r.dedup_items_per_s:>14,.0f} {trips:>10} {r.bytes_per_item:>7.0f}"
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
        gc.collect()
        if args.backend in ("both", "embedded"):
            rows.append(await bench_embedded(size))
            print(f"embedded {size:,} done", file=sys.stderr, flush=True)
        if args.backend in ("both", "redis"):
            rows.append(await bench_redis(args.redis_url, size))
            print(f"redis {size:,} done", file=sys.stderr, flush=True)
    print_table(rows)


if __name__ == "__main__":
    asyncio.run(main())

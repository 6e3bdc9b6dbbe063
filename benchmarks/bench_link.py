"""Benchmark the event linker: its cost per new copy as remembered events grow, and its precision and
recall on the multilingual fixtures.

    .venv/bin/python benchmarks/bench_link.py             # 10k and 1M remembered events, both stores
    .venv/bin/python benchmarks/bench_link.py --quick     # 10k and 100k
    .venv/bin/python benchmarks/bench_link.py --quality   # only precision/recall (seconds)

Cost: each store is pre-loaded with that many synthetic events (a bulk load that writes the records
and index entries `find_or_add_event` would write), all published within the last two days so that
they share the hot index keys a real desk sees (anchors drawn from the real vocabulary with a Zipf
skew: Baghdad, rockets and the PMF are in thousands of them). Then, side by side at each size:

- `new`: find_or_add_event for a report that joins nothing (the common case: it reads every key);
- `copy`: for another outlet's report of an event stored in the last six hours (same places,
  actors, day; other text), and how many of those joined their event (`joined`);
- `anchors`: AnchorFinder.find on the seed article (the CPU the pipeline adds per matched item).

Median and p95 µs over 500 calls each; the 1M/10k ratio is the flatness figure.

Quality: the fixtures of tests/events (57 reports of 15 events in ar/fa/ckb/en, confusables included)
are linked in publication order and in 200 random orders; pairs of reports are scored same-event or
not, giving precision and recall.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import random
import statistics
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

from bench_state import delete_keys  # noqa: E402

from service import lexicon  # noqa: E402
from service.events.anchors import (  # noqa: E402
    ORG,
    PERSON,
    SITE,
    Anchors,
    _table,
    default_finder,
    place_names,
)
from service.events.link import POSTINGS, EventRecord, Report  # noqa: E402
from service.models import Item, Outlet  # noqa: E402
from service.state.embedded import EmbeddedStore  # noqa: E402
from service.state.fingerprint import SIGNATURE_SIZE, story_id_for  # noqa: E402
from service.state.redis_store import RedisStore  # noqa: E402

NOW = datetime(2021, 6, 10, 8, 0, tzinfo=UTC)
SPREAD = 2 * 86400.0  # preloaded events were published within this long before NOW
LOOKUPS = 500
RECENT = 6 * 3600.0
CHUNK = 5000


@dataclass
class Row:
    backend: str
    size: int
    new_median: float = 0.0
    new_p95: float = 0.0
    copy_median: float = 0.0
    copy_p95: float = 0.0
    joined: int = 0
    preload_s: float = 0.0


class Vocabulary:
    """Anchor ids of every kind, Zipf-weighted so that a few are in most reports."""

    def __init__(self) -> None:
        table = _table()
        self.places = sorted(place_names())
        self.sites = [SITE + k for k in table.sites]
        self.actors = [ORG + k for k in table.orgs] + [PERSON + k for k in table.people]
        self.concepts = ["c:" + e for e in lexicon.entries()]
        self.mixed = self.places + self.actors + self.concepts
        self._cumulative: dict[int, list[float]] = {}

    def pick(self, rng: random.Random, pool: list[str], k: int) -> list[str]:
        cumulative = self._cumulative.get(id(pool))
        if cumulative is None:
            cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(pool))))
            self._cumulative[id(pool)] = cumulative
        return list(dict.fromkeys(rng.choices(pool, cum_weights=cumulative, k=k)))


def synthetic_report(rng: random.Random, vocab: Vocabulary, at: float) -> Report:
    lead = [
        *vocab.pick(rng, vocab.places, rng.randint(1, 2)),
        *vocab.pick(rng, vocab.sites, rng.randint(0, 1)),
        *vocab.pick(rng, vocab.actors, rng.randint(0, 2)),
        *vocab.pick(rng, vocab.concepts, rng.randint(2, 4)),
    ]
    body = lead + vocab.pick(rng, vocab.mixed, rng.randint(3, 8))
    day = datetime.fromtimestamp(at + 3 * 3600, UTC).date().isoformat()
    anchors = Anchors(
        title=frozenset(lead[:2]),
        lead=frozenset(lead),
        body=frozenset(body),
        days=frozenset([day]),
        counts=frozenset(str(rng.randint(1, 20)) for _ in range(rng.randint(0, 2))),
        digits=frozenset(str(rng.randint(1, 3000)) for _ in range(rng.randint(2, 6))),
        followup=rng.random() < 0.05,
    )
    signature = tuple(rng.getrandbits(32) for _ in range(SIGNATURE_SIZE))
    return Report(at, anchors, signature)


def translation(report: Report, rng: random.Random) -> Report:
    """Another outlet's report of the same event: the same lead, other text, minutes later."""
    signature = tuple(rng.getrandbits(32) for _ in range(SIGNATURE_SIZE))
    return Report(report.at + 600, report.anchors, signature)


VOCAB = Vocabulary()


def preload_events(size: int, seed: int) -> tuple[list[tuple[str, EventRecord, list[str]]], list[Report]]:
    rng, vocab = random.Random(seed), VOCAB
    start = NOW.timestamp() - SPREAD
    events, reports = [], []
    for n in range(size):
        at = start + SPREAD * n / size
        report = synthetic_report(rng, vocab, at)
        key = f"pre\x1f{n}"
        record = EventRecord(story_id_for(key), (report,), (Outlet(f"feed-{n % 500}", "ar", "", at),), 0.0)
        events.append((key, record, report.index_keys()))
        reports.append(report)
    return events, reports


# -- stores ------------------------------------------------------------------------------------------


async def load_embedded(store: EmbeddedStore, events: list[tuple[str, EventRecord, list[str]]]) -> None:
    expires = NOW.timestamp() + store.story_ttl

    def write(db: Any, chunk: list[tuple[str, EventRecord, list[str]]]) -> None:
        with db:
            db.executemany(
                "INSERT OR REPLACE INTO events VALUES (?, ?, ?)",
                [(r.id, _with_expiry(r, expires).encode(), expires) for _, r, _ in chunk],
            )
            db.executemany(
                "INSERT OR REPLACE INTO event_item VALUES (?, ?, ?)",
                [(k, r.id, expires) for k, r, _ in chunk],
            )
            db.executemany(
                "INSERT OR REPLACE INTO event_key (key, event, expires) VALUES (?, ?, ?)",
                [(key, r.id, expires) for _, r, keys in chunk for key in keys],
            )

    for start in range(0, len(events), CHUNK):
        chunk = events[start : start + CHUNK]
        await store._run(lambda db, c=chunk: write(db, c))


async def load_redis(store: RedisStore, events: list[tuple[str, EventRecord, list[str]]]) -> None:
    expires = NOW.timestamp() + store.story_ttl
    ttl = int(store.story_ttl * 1000)
    newest: dict[str, list[tuple[str, float]]] = {}
    for _, record, keys in events:
        for key in keys:
            newest.setdefault(key, []).append((record.id, record.reports[0].at))
    for start in range(0, len(events), CHUNK):
        pipe = store.redis.pipeline(transaction=False)
        for key, record, _ in events[start : start + CHUNK]:
            pipe.set(store.keys.event(record.id), _with_expiry(record, expires).encode(), px=ttl)
            pipe.set(store.keys.event_item(key), record.id, px=ttl)
        await pipe.execute()
    names = list(newest)
    for start in range(0, len(names), CHUNK):
        pipe = store.redis.pipeline(transaction=False)
        for key in names[start : start + CHUNK]:
            members = dict(newest[key][-POSTINGS:])
            pipe.zadd(store.keys.event_key(key), members)
            pipe.pexpire(store.keys.event_key(key), ttl)
        await pipe.execute()


def _with_expiry(record: EventRecord, expires: float) -> EventRecord:
    return EventRecord(record.id, record.reports, record.outlets, expires)


async def lookups(
    store: Any, reports: list[Report], rng: random.Random
) -> tuple[list[float], list[float], int]:
    vocab = VOCAB
    new, copies, joined = [], [], 0
    for n in range(LOOKUPS):
        fresh = synthetic_report(rng, vocab, NOW.timestamp() - rng.uniform(0, 3600))
        started = time.perf_counter()
        await store.find_or_add_event(f"new\x1f{n}", fresh, Outlet("bench-new"), NOW)
        new.append(time.perf_counter() - started)
        # Other languages' reports arrive within hours of the first: a copy of an event of the last 6 h.
        stored = reports[len(reports) - 1 - rng.randrange(max(1, int(len(reports) * RECENT / SPREAD)))]
        started = time.perf_counter()
        match = await store.find_or_add_event(
            f"copy\x1f{n}", translation(stored, rng), Outlet("bench-copy"), NOW
        )
        copies.append(time.perf_counter() - started)
        joined += not match.is_new
    return new, copies, joined


def summarise(row: Row, new: list[float], copies: list[float], joined: int) -> Row:
    row.new_median, row.new_p95 = statistics.median(new) * 1e6, _p95(new) * 1e6
    row.copy_median, row.copy_p95 = statistics.median(copies) * 1e6, _p95(copies) * 1e6
    row.joined = joined
    return row


def _p95(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.95)]


async def bench_embedded(size: int) -> Row:
    events, reports = preload_events(size, size)
    gc.collect()
    gc.freeze()
    with tempfile.TemporaryDirectory() as tmp:
        store = EmbeddedStore(Path(tmp) / "state")
        await store.open()
        started = time.perf_counter()
        await load_embedded(store, events)
        preload = time.perf_counter() - started
        del events
        row = summarise(Row("embedded", size), *await lookups(store, reports, random.Random(7)))
        row.preload_s = preload
        await store.close()
    gc.unfreeze()
    return row


async def bench_redis(url: str, size: int) -> Row:
    events, reports = preload_events(size, size)
    gc.collect()
    gc.freeze()
    store = RedisStore(url, prefix=f"newsalert-bench:{uuid.uuid4().hex[:8]}:")
    await store.open()
    try:
        started = time.perf_counter()
        await load_redis(store, events)
        preload = time.perf_counter() - started
        del events
        row = summarise(Row("redis", size), *await lookups(store, reports, random.Random(7)))
        row.preload_s = preload
    finally:
        await delete_keys(store.redis, f"{store.keys.prefix}*")
        await store.close()
    gc.unfreeze()
    return row


# -- quality ------------------------------------------------------------------------------------------


def quality(orders: int) -> dict[str, object]:
    from tests.events import corpus

    copies = list(corpus.copies())
    truth = {c.id: c.event for c in copies}

    def run(order: list[Any]) -> tuple[int, int, int]:
        return corpus.pair_counts(corpus.cluster(order))

    tp, fp, fn = run(copies)
    rng = random.Random(1)
    shuffled = []
    for _ in range(orders):
        order = copies[:]
        rng.shuffle(order)
        shuffled.append(run(order))
    recalls = [t / (t + n) for t, _, n in shuffled]
    return {
        "reports": len(copies),
        "events": len(set(truth.values())),
        "pairs_same_event": tp + fn,
        "pairs_other_event": len(list(itertools.combinations(truth, 2))) - tp - fn,
        "published_order": {"precision": tp / max(1, tp + fp), "recall": tp / (tp + fn), "false_links": fp},
        "random_orders": {
            "orders": orders,
            "false_links_max": max(f for _, f, _ in shuffled),
            "precision_min": min(t / max(1, t + f) for t, f, _ in shuffled),
            "recall_min": min(recalls),
            "recall_mean": statistics.mean(recalls),
        },
    }


def anchor_cost() -> float:
    text = (REPO / "tests" / "fixtures" / "seed-article.txt").read_text(encoding="utf-8")
    item = Item(id="s", feed="f", title="زيارة مرفقة بهجمات", content=text, published=NOW, language="ar")
    finder = default_finder()
    finder.find(item)
    started = time.perf_counter()
    for _ in range(50):
        finder.find(item)
    return (time.perf_counter() - started) / 50 * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k instead of 10k and 1M")
    parser.add_argument("--quality", action="store_true", help="only precision and recall on the fixtures")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--backend", choices=["both", "embedded", "redis"], default="both")
    args = parser.parse_args()
    print(json.dumps(quality(200), indent=2))
    if args.quality:
        return
    started = time.perf_counter()
    default_finder()
    print(
        f"AnchorFinder built in {time.perf_counter() - started:.2f} s; find() on the seed article: "
        f"{anchor_cost():.2f} ms",
        flush=True,
    )
    sizes = (10_000, 100_000) if args.quick else (10_000, 1_000_000)
    rows = []
    for size in sizes:
        if args.backend in ("both", "embedded"):
            rows.append(await bench_embedded(size))
            print(f"embedded {size:,} done", file=sys.stderr, flush=True)
        if args.backend in ("both", "redis"):
            rows.append(await bench_redis(args.redis_url, size))
            print(f"redis {size:,} done", file=sys.stderr, flush=True)
    header = (
        f"{'backend':9} {'events':>10} {'new µs (p50)':>13} {'new p95':>8} {'copy µs (p50)':>14} "
        f"{'copy p95':>9} {'joined':>7} {'preload s':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.backend:9} {r.size:>10,} {r.new_median:>13.0f} {r.new_p95:>8.0f} {r.copy_median:>14.0f} "
            f"{r.copy_p95:>9.0f} {r.joined:>4}/{LOOKUPS} {r.preload_s:>9.1f}"
        )
    for backend in ("embedded", "redis"):
        mine = [r for r in rows if r.backend == backend]
        if len(mine) == 2:
            small, large = mine
            print(
                f"{backend}: {large.size:,}/{small.size:,} ratio: new {large.new_median / small.new_median:.2f}x, "
                f"copy {large.copy_median / small.copy_median:.2f}x"
            )


if __name__ == "__main__":
    asyncio.run(main())

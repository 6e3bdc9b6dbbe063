"""Benchmark the matcher: compile time and memory, articles/s per core, and a per-term regex loop.

    .venv/bin/python benchmarks/bench_match.py            # 100, 1k, 10k, 100k terms, then the feed runs
    .venv/bin/python benchmarks/bench_match.py --quick    # 100, 1k, 10k terms, fewer articles
    .venv/bin/python benchmarks/bench_match.py --scenario sparse --no-feed   # or --feed-only
    .venv/bin/python benchmarks/bench_match.py --root /path/to/other/checkout   # another version

Each term count runs in a fresh child process pinned to one CPU (so RSS deltas are honest), once
per scenario:

- dense: 50 of the terms are real corpus words and phrases, so every article hits ~24 terms and
  ~4 watchlists fire (a hit-heavy worst case);
- sparse: 4 real terms, the rest made-up names, like a real watchlist against the news: an
  article hits a few terms (the seed article's watchlists, which both scenarios keep, give most).

Rates are articles per CPU-second of the benchmark process (the wall-clock rate is shown too: it
is the same on an idle core, lower when other work shares the core). "cold" is the first pass over
the corpus with a freshly compiled matcher, "warm" the median of three later passes (the matcher
remembers the words it has analysed, as a long-running service does).

The corpus is generated deterministically: Arabic articles from the seed article's vocabulary and
sentences (with tatweel, harakat and clitics) where half the words are made up, English ones from
news-like templates; each is about 4 KB of UTF-8. Watchlists hold 10 terms each, mixing OR, AND,
NEAR, phrases, prefixes and concept/entity references.

The feed run times what `newsalert match FEED` does at 10,000 terms on a 100-item feed (and a
1,000-item one in the full run): compile_matcher, parse a generated RSS file (parse_feed +
build_items), match every item. It is compared with a per-term loop (one compiled whole-word
pattern per term, findall on each normalised field) with the `regex` module and with stdlib `re`,
parse included on both sides. The loops are timed on as many items as a time budget allows and
scaled to the whole feed.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "tests" / "fixtures" / "seed-article.txt"
ARTICLE_BYTES = 4096
AR_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
EN_LETTERS = "abcdefghijklmnopqrstuvwxyz"
REAL_TERMS = {"dense": 50, "sparse": 4}
FEED_TERMS = 10_000
FEED_ITEMS = 100

EN_SUBJECTS = ["Officials", "The ministry", "Security forces", "Witnesses", "The governor", "Analysts"]
EN_VERBS = ["said", "reported", "confirmed", "denied", "warned", "announced"]
EN_OBJECTS = [
    "that rockets struck a military base near the airport",
    "a drone was shot down over the northern district",
    "talks on the electricity budget would resume next week",
    "the border crossing reopened after two days of clashes",
    "prices of fuel and bread rose sharply in the capital",
    "striking workers gathered outside the port authority",
    "the parliament session on the election law was postponed",
    "several militia commanders met the prime minister's envoy",
]
EN_PLACES = ["Baghdad", "Erbil", "Basra", "Mosul", "Tehran", "Damascus", "Beirut", "Amman", "Kirkuk"]


def _build() -> str:
    """Whether the engine imported runs as mypyc extension modules or as Python sources."""
    import service.match.scan as scan

    return "python" if scan.__file__.endswith(".py") else "compiled"


def _use_root(root: Path) -> None:
    """Import the engine (`service`) from `root`: this checkout or another one to compare with."""
    sys.path.insert(0, str(root))


def _arabic_article(rng: random.Random, sentences: list[str], words: list[str]) -> str:
    parts: list[str] = []
    while len(" ".join(parts).encode()) < ARTICLE_BYTES:
        if rng.random() < 0.25:
            parts.append(rng.choice(sentences))
        else:
            # Real news has a far larger vocabulary than one article: half the words are made up.
            picked = [
                rng.choice(words) if rng.random() < 0.5 else _pseudo_word(rng, AR_LETTERS)
                for _ in range(rng.randint(8, 16))
            ]
            if rng.random() < 0.2:
                picked[0] = picked[0][:1] + "ـ" + picked[0][1:]  # tatweel
            if rng.random() < 0.2:
                picked[-1] = picked[-1] + "َ"  # a fatha
            parts.append(" ".join(picked) + ".")
    return _trim(" ".join(parts))


def _english_article(rng: random.Random) -> str:
    parts: list[str] = []
    while len(" ".join(parts).encode()) < ARTICLE_BYTES:
        if rng.random() < 0.3:
            sentence = f"{rng.choice(EN_SUBJECTS)} in {rng.choice(EN_PLACES)} {rng.choice(EN_VERBS)} {rng.choice(EN_OBJECTS)}."
        else:
            filler = " ".join(_pseudo_word(rng, EN_LETTERS) for _ in range(rng.randint(6, 14)))
            sentence = f"{rng.choice(EN_SUBJECTS)} {rng.choice(EN_VERBS)} {filler}."
        parts.append(sentence)
    return _trim(" ".join(parts))


def _trim(text: str) -> str:
    return text.encode()[:ARTICLE_BYTES].decode(errors="ignore")


def make_texts(count: int, seed: int = 20210610) -> tuple[list[str], list[str], list[str]]:
    """`count` article texts (half Arabic, half English) and the Arabic and English vocabularies."""
    rng = random.Random(seed)
    text = SEED.read_text(encoding="utf-8")
    sentences = [s.strip() for s in re.split(r"[.\n]+", text) if len(s.split()) >= 6]
    ar_words = sorted({w for w in re.findall(r"[\u0600-\u06ff]+", text) if len(w) >= 3})
    en_words = sorted({w.lower() for s in EN_OBJECTS + EN_PLACES for w in s.split() if len(w) >= 4})
    texts = [
        _arabic_article(rng, sentences, ar_words) if i % 2 == 0 else _english_article(rng)
        for i in range(count)
    ]
    return texts, ar_words, en_words


def make_corpus(count: int, seed: int = 20210610) -> tuple[list[Any], list[str], list[str]]:
    """`count` items (half Arabic, half English) and the Arabic and English vocabularies."""
    from service.models import Item

    texts, ar_words, en_words = make_texts(count, seed)
    items = [Item(id=str(i), feed="bench", title=t[:80], content=t) for i, t in enumerate(texts)]
    return items, ar_words, en_words


def _pseudo_word(rng: random.Random, letters: str) -> str:
    return "".join(rng.choice(letters) for _ in range(rng.randint(5, 9)))


def make_terms(count: int, ar_words: list[str], en_words: list[str], real: int = 50) -> list[str]:
    """`count` terms: `real` corpus words and phrases (half per language), the rest made up."""
    rng = random.Random(count)
    real = min(count, real)
    terms: list[str] = []
    for i in range(real):
        vocabulary = ar_words if i % 2 == 0 else en_words
        word = rng.choice(vocabulary)
        terms.append(f'"{word} {rng.choice(vocabulary)}"' if i % 7 == 0 else word)
    while len(terms) < count:
        letters = AR_LETTERS if len(terms) % 2 == 0 else EN_LETTERS
        word = _pseudo_word(rng, letters)
        terms.append(f'"{word} {_pseudo_word(rng, letters)}"' if len(terms) % 11 == 0 else word)
    return terms[:count]


def make_watchlists(terms: list[str]) -> list[Any]:
    """Groups of 10 terms in a few query shapes, plus the seed article's real watchlists."""
    from service.models import WatchlistDef

    lists = [
        WatchlistDef("airport", '@rocket AND @"Baghdad International Airport"'),
        WatchlistDef("qaani", '@"Esmail Qaani"'),
    ]
    for n in range(0, len(terms), 10):
        group = terms[n : n + 10]
        shape = n // 10 % 4
        if shape == 0 or len(group) < 4:
            query = " OR ".join(group)
        elif shape == 1:
            query = f"({' OR '.join(group[:5])}) AND ({' OR '.join(group[5:])})"
        elif shape == 2:
            query = f"({' OR '.join(group[:5])}) NEAR/10 ({' OR '.join(group[5:])})"
        else:
            first = group[0] if group[0].startswith('"') else group[0][:5] + "*"
            query = f"{first} OR " + " OR ".join(group[1:])
        lists.append(WatchlistDef(f"w{n // 10}", query))
    return lists


def vocabulary() -> Any:
    from service.models import EntityDef, EntityKind, Vocabulary

    return Vocabulary(
        concepts={"rocket": ("rocket", "missile", "katyusha", "صاروخ", "صواريخ", "كاتيوشا")},
        entities=(
            EntityDef(
                "Baghdad International Airport",
                EntityKind.PLACE,
                ("Baghdad airport", "BGW", "ORBI", "مطار بغداد الدولي", "مطار بغداد"),
            ),
            EntityDef("Esmail Qaani", EntityKind.PERSON),
        ),
    )


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _passes(
    run: Callable[[Any], object], items: Sequence[Any], min_seconds: float
) -> list[tuple[float, float]]:
    """(CPU-time rate, wall-clock rate) of three timed passes of at least `min_seconds` each."""
    rates = []
    for _ in range(3):
        done, cpu, wall = 0, time.process_time(), time.perf_counter()
        while time.perf_counter() - wall < min_seconds or done == 0:
            for item in items:
                run(item)
            done += len(items)
        rates.append((done / (time.process_time() - cpu), done / (time.perf_counter() - wall)))
    return rates


def _regex_baseline(terms: list[str], texts: list[str], budget: float) -> float:
    """Articles/s of a compiled whole-word `re` pattern per term, on normalised text."""
    from service.text import normalise

    literals = [re.escape(normalise(term.strip('"*'))) for term in terms]
    patterns = [re.compile(rf"(?<!\w){literal}(?!\w)") for literal in literals]
    done, start = 0, time.process_time()
    for text in texts:
        norm = normalise(text)
        for pattern in patterns:
            pattern.search(norm)
        done += 1
        if time.process_time() - start > budget:
            break
    return done / (time.process_time() - start)


def measure(count: int, scenario: str, articles: int, baseline_budget: float) -> dict[str, float | str]:
    """One term count and scenario, in this process: compile, cold pass, warm passes, baseline."""
    from service.match import compile_matcher

    items, ar_words, en_words = make_corpus(articles)
    terms = make_terms(count, ar_words, en_words, REAL_TERMS[scenario])
    watchlists = make_watchlists(terms)
    vocab = vocabulary()
    gc.collect()
    before, start = _rss_mb(), time.perf_counter()
    matcher = compile_matcher(watchlists, vocab)
    compile_s = time.perf_counter() - start
    gc.collect()
    memory = _rss_mb() - before
    cpu, wall = time.process_time(), time.perf_counter()
    results = [matcher.match(item) for item in items]  # the cold pass: nothing remembered yet
    cold = len(items) / (time.process_time() - cpu), len(items) / (time.perf_counter() - wall)
    warm = _passes(matcher.match, items, 0.5)
    return {
        "terms": count,
        "scenario": scenario,
        "watchlists": len(watchlists),
        "compile_s": compile_s,
        "compile_mb": memory,
        "cold_s": cold[0],
        "articles_s": statistics.median(r[0] for r in warm),
        "wall_s": statistics.median(r[1] for r in warm),
        "matches": sum(len(r) for r in results) / len(items),
        "hits": sum(len(m.hits) for r in results for m in r) / len(items),
        "regex_s": _regex_baseline(terms, [item.content for item in items], baseline_budget),
    }


def one_pass(count: int, scenario: str, cold: bool) -> None:
    """Compile, then match every article once: the pass to run under callgrind.

    Warm (the default) first scans every field outside `Matcher.match`, so that counting inside
    it (--toggle-collect) sees the steady state without the first pass's learning.
    """
    from service.match import compile_matcher
    from service.models import FIELDS
    from service.text.normalise import normalise
    from service.text.tokenise import count_tokens

    items, ar_words, en_words = make_corpus(200)
    terms = make_terms(count, ar_words, en_words, REAL_TERMS[scenario])
    matcher = compile_matcher(make_watchlists(terms), vocabulary())
    for item in [] if cold else items:
        for index, name in enumerate(FIELDS):
            text = item.field_text(name)
            if text:
                matcher.tables.scanner.scan(index, text, normalise(text))
                count_tokens(normalise(text), len(text))  # NEAR's per-word counts
    for item in items:
        matcher.match(item)


# ---------------------------------------------------------------- the feed run


def make_feed(texts: list[str]) -> bytes:
    """An RSS 2.0 document with one item per text: title, link, guid, date, summary, HTML body."""
    items = []
    for i, text in enumerate(texts):
        sentences = [s for s in re.split(r"(?<=\.) ", text) if s]
        paragraphs = "".join(
            f"<p>{escape(' '.join(sentences[j : j + 4]))}</p>" for j in range(0, len(sentences), 4)
        )
        items.append(
            f"<item><title>{escape(text[:80])}</title>"
            f"<link>https://news.example/{i}</link><guid>https://news.example/{i}</guid>"
            f"<pubDate>Thu, 10 Jun 2021 08:{i % 60:02d}:00 GMT</pubDate>"
            f"<description>{escape(text[:300])}</description>"
            f"<content:encoded><![CDATA[{paragraphs}]]></content:encoded></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        "<title>bench</title><link>https://news.example/</link><description>bench</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def _loop_seconds(patterns: list[Any], items: list[Any], budget: float) -> tuple[float, int]:
    """CPU seconds per item of one compiled whole-word pattern per term over every field of an
    item (normalised, like the matcher's input), finding every hit; and how many items were timed.
    """
    from service.text import normalise

    done, start = 0, time.process_time()
    for item in items:
        for text in (item.title, item.summary, item.content):
            norm = normalise(text)
            for pattern in patterns:
                pattern.findall(norm)
        done += 1
        if time.process_time() - start > budget:
            break
    return (time.process_time() - start) / done, done


def measure_feed(count: int, items_count: int, budget: float) -> dict[str, Any]:
    """`newsalert match FEED` at `count` terms (dense) against per-term regex loops, parse included."""
    import regex  # type: ignore[import-untyped, unused-ignore]

    from service.feeds.items import build_items
    from service.feeds.parse import parse_feed
    from service.match import compile_matcher
    from service.text import normalise

    texts, ar_words, en_words = make_texts(items_count, seed=7)
    feed = make_feed(texts)
    terms = make_terms(count, ar_words, en_words, REAL_TERMS["dense"])
    watchlists, vocab = make_watchlists(terms), vocabulary()
    now = datetime(2021, 6, 10, 12, tzinfo=UTC)

    def parse() -> list[Any]:
        items: list[Any] = build_items(parse_feed(feed, {}), feed="bench", language=None, now=now)
        return items

    parse()  # import and warm the parser and the language model once, outside every timing
    begin = time.process_time()
    matcher = compile_matcher(watchlists, vocab)
    compiled = time.process_time()
    items = parse()
    parsed = time.process_time()
    fired = sum(len(matcher.match(item)) for item in items)
    matched = time.process_time()
    engine = matched - begin
    result: dict[str, Any] = {
        "terms": count,
        "items": len(items),
        "engine_s": engine,
        "compile_s": compiled - begin,
        "parse_s": parsed - compiled,
        "match_s": matched - parsed,
        "fired": fired / len(items),
    }
    literals = [normalise(term.strip('"*')) for term in terms]
    for name, module in (("regex", regex), ("re", re)):
        start = time.process_time()
        items = parse()
        patterns = [module.compile(rf"(?<!\w){module.escape(literal)}(?!\w)") for literal in literals]
        setup = time.process_time() - start
        per_item, timed = _loop_seconds(patterns, items, budget)
        total = setup + per_item * len(items)  # the loop over all items, from `timed` of them
        result[name] = {"seconds": total, "timed": timed, "ratio": total / engine}
    return result


# ---------------------------------------------------------------- driver


def _child(args: list[str], root: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--root", str(root), *args]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def _print(results: list[dict[str, Any]]) -> None:
    print(
        f"{'terms':>8} {'scenario':>8} {'lists':>6} {'compile s':>9} {'MB':>5} {'cold art/s':>10} "
        f"{'art/s':>7} {'µs/art':>7} {'wall art/s':>10} {'fired/art':>9} {'hits/art':>8} "
        f"{'regex art/s':>11} {'speed-up':>9}"
    )
    for r in results:
        print(
            f"{r['terms']:>8,} {r['scenario']:>8} {r['watchlists']:>6,} {r['compile_s']:>9.2f} "
            f"{r['compile_mb']:>5.0f} {r['cold_s']:>10,.0f} {r['articles_s']:>7,.0f} "
            f"{1e6 / r['articles_s']:>7.0f} {r['wall_s']:>10,.0f} {r['matches']:>9.2f} {r['hits']:>8.1f} "
            f"{r['regex_s']:>11,.1f} {r['articles_s'] / r['regex_s']:>8,.0f}×"
        )
    for scenario in dict.fromkeys(r["scenario"] for r in results):
        rows = [r for r in results if r["scenario"] == scenario]
        first, last = rows[0], rows[-1]
        share = last["articles_s"] / first["articles_s"]
        print(f"{scenario}: {last['terms']:,} terms run at {share:.0%} of the rate at {first['terms']:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer articles, no 100k run")
    parser.add_argument("--scenario", choices=["dense", "sparse", "both"], default="both")
    parser.add_argument("--no-feed", action="store_true", help="skip the `newsalert match FEED` run")
    parser.add_argument("--feed-only", action="store_true", help="only the `newsalert match FEED` run")
    parser.add_argument("--root", type=Path, default=REPO, help="checkout whose engine to measure")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--feed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--feed-items", type=int, default=FEED_ITEMS, help=argparse.SUPPRESS)
    parser.add_argument("--one-pass", type=int, metavar="TERMS", help="one pass to count under callgrind")
    parser.add_argument("--cold", action="store_true", help="with --one-pass: nothing remembered first")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})  # one core: figures are per core
    _use_root(args.root)
    articles = 40 if args.quick else 200
    if args.one_pass:
        one_pass(args.one_pass, "sparse" if args.scenario == "sparse" else "dense", args.cold)
        return
    if args.one:
        print(json.dumps(measure(args.one, args.scenario, articles, 1.0 if args.quick else 3.0)))
        return
    if args.feed:
        print(json.dumps(measure_feed(args.feed, args.feed_items, 2.0 if args.quick else 5.0)))
        return
    quick = ["--quick"] if args.quick else []
    print(
        f"engine from {args.root} ({_build()}); one core; {articles} articles of ~4 KB"
        " (half Arabic, half English)\n"
    )
    if not args.feed_only:
        counts = [100, 1_000, 10_000] + ([] if args.quick else [100_000])
        scenarios = ["dense", "sparse"] if args.scenario == "both" else [args.scenario]
        _print(
            [
                _child(["--one", str(count), "--scenario", scenario, *quick], args.root)
                for scenario in scenarios
                for count in counts
            ]
        )
    if not args.no_feed:
        print()
        for size in [FEED_ITEMS] + ([] if args.quick else [FEED_ITEMS * 10]):
            feed = _child(["--feed", str(FEED_TERMS), "--feed-items", str(size), *quick], args.root)
            print(
                f"newsalert match on a {feed['items']:,}-item RSS feed at {feed['terms']:,} terms, CPU s, parse "
                f"included: engine {feed['engine_s']:.2f} (compile {feed['compile_s']:.2f}, parse "
                f"{feed['parse_s']:.2f}, match {feed['match_s']:.2f}); per-term loops: `regex` "
                f"{feed['regex']['seconds']:.1f} ({feed['regex']['ratio']:.1f}×), `re` {feed['re']['seconds']:.1f} "
                f"({feed['re']['ratio']:.1f}×)  [loops timed on {feed['regex']['timed']}/{feed['re']['timed']} items]"
            )


if __name__ == "__main__":
    main()

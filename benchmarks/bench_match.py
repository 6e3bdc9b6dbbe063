"""Benchmark the matcher: compile time and memory, articles/s per core, and a per-term regex loop.

    .venv/bin/python benchmarks/bench_match.py            # 100, 1k, 10k, 100k terms
    .venv/bin/python benchmarks/bench_match.py --quick    # 100, 1k, 10k terms, fewer articles

Each term count runs in a fresh child process pinned to one CPU (so RSS deltas are honest). The
corpus is generated deterministically: Arabic articles from the seed article's vocabulary and
sentences (with tatweel, harakat and clitics), English ones from news-like templates; each is
about 4 KB of UTF-8. Watchlists hold 10 terms each, mixing OR, AND, NEAR, phrases, prefixes and
concept/entity references; 50 terms are real corpus words so that articles do hit.
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from service.match import compile_matcher  # noqa: E402
from service.models import EntityDef, EntityKind, Item, Vocabulary, WatchlistDef  # noqa: E402
from service.text import normalise  # noqa: E402

SEED = REPO / "tests" / "fixtures" / "seed-article.txt"
ARTICLE_BYTES = 4096
AR_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
EN_LETTERS = "abcdefghijklmnopqrstuvwxyz"

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


def make_corpus(count: int) -> tuple[list[Item], list[str], list[str]]:
    """`count` items (half Arabic, half English) and the Arabic and English vocabularies."""
    rng = random.Random(20210610)
    seed = SEED.read_text(encoding="utf-8")
    sentences = [s.strip() for s in re.split(r"[.\n]+", seed) if len(s.split()) >= 6]
    ar_words = sorted({w for w in re.findall(r"[\u0600-\u06ff]+", seed) if len(w) >= 3})
    en_words = sorted({w.lower() for s in EN_OBJECTS + EN_PLACES for w in s.split() if len(w) >= 4})
    items = []
    for i in range(count):
        text = _arabic_article(rng, sentences, ar_words) if i % 2 == 0 else _english_article(rng)
        items.append(Item(id=str(i), feed="bench", title=text[:80], content=text))
    return items, ar_words, en_words


def _pseudo_word(rng: random.Random, letters: str) -> str:
    return "".join(rng.choice(letters) for _ in range(rng.randint(5, 9)))


def make_terms(count: int, ar_words: list[str], en_words: list[str]) -> list[str]:
    """`count` terms: 50 real corpus words and phrases (25 per language), the rest made up.

    Like the "sparse" lists of notes/performance.md: real watchlists are long lists of names and
    rare words, and an article hits a handful of them.
    """
    rng = random.Random(count)
    real = min(count, 50)
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


def make_watchlists(terms: list[str]) -> list[WatchlistDef]:
    """Groups of 10 terms in a few query shapes, plus the seed article's real watchlists."""
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


VOCABULARY = Vocabulary(
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


def _rate(run: object, items: list[Item], min_seconds: float) -> float:
    """Median articles/s over three timed passes of at least `min_seconds` each."""
    rates = []
    for _ in range(3):
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < min_seconds or done == 0:
            for item in items:
                run(item)  # type: ignore[operator]
            done += len(items)
        rates.append(done / (time.perf_counter() - start))
    return statistics.median(rates)


def _regex_baseline(terms: list[str], items: list[Item], budget: float) -> float:
    """A compiled whole-word regex per term, run on normalised text (what a naive engine does)."""
    literals = [re.escape(normalise(term.strip('"*'))) for term in terms]
    patterns = [re.compile(rf"(?<!\w){literal}(?!\w)") for literal in literals]
    done, start = 0, time.perf_counter()
    for item in items:
        text = normalise(item.content)
        for pattern in patterns:
            pattern.search(text)
        done += 1
        if time.perf_counter() - start > budget:
            break
    return done / (time.perf_counter() - start)


def measure(count: int, articles: int, baseline_budget: float) -> dict[str, float]:
    """One configuration, in this process: compile, match, baseline."""
    items, ar_words, en_words = make_corpus(articles)
    terms = make_terms(count, ar_words, en_words)
    watchlists = make_watchlists(terms)
    gc.collect()
    before, start = _rss_mb(), time.perf_counter()
    matcher = compile_matcher(watchlists, VOCABULARY)
    compile_s = time.perf_counter() - start
    gc.collect()
    memory = _rss_mb() - before
    matcher.match(items[0])  # warm caches (language model, offset tables)
    rate = _rate(matcher.match, items, 0.5)
    fired = sum(len(matcher.match(item)) for item in items) / len(items)
    hits = sum(len(m.hits) for item in items for m in matcher.match(item)) / len(items)
    regex_rate = _regex_baseline(terms, items, baseline_budget)
    return {
        "terms": count,
        "watchlists": len(watchlists),
        "compile_s": compile_s,
        "compile_mb": memory,
        "articles_s": rate,
        "matches": fired,
        "hits": hits,
        "regex_s": regex_rate,
    }


def _child(count: int, quick: bool) -> dict[str, float]:
    args = [sys.executable, __file__, "--one", str(count)] + (["--quick"] if quick else [])
    output = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def _print(results: list[dict[str, float]]) -> None:
    print(
        f"{'terms':>8} {'lists':>6} {'compile s':>9} {'MB':>6} {'articles/s':>10} "
        f"{'µs/art':>7} {'fired/art':>9} {'hits/art':>8} {'regex art/s':>11} {'speed-up':>9}"
    )
    for r in results:
        print(
            f"{r['terms']:>8,.0f} {r['watchlists']:>6,.0f} {r['compile_s']:>9.2f} {r['compile_mb']:>6.0f} "
            f"{r['articles_s']:>10,.0f} {1e6 / r['articles_s']:>7.0f} {r['matches']:>9.2f} "
            f"{r['hits']:>8.1f} {r['regex_s']:>11,.1f} {r['articles_s'] / r['regex_s']:>8,.0f}×"
        )
    first, last = results[0], results[-1]
    print(
        f"\n{last['terms']:,.0f} terms run at {last['articles_s'] / first['articles_s']:.0%} of the rate at {first['terms']:,.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer articles, no 100k run")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})  # one core: figures are per core
    articles = 40 if args.quick else 200
    if args.one:
        print(json.dumps(measure(args.one, articles, 1.0 if args.quick else 3.0)))
        return
    counts = [100, 1_000, 10_000] + ([] if args.quick else [100_000])
    print(f"{articles} articles of ~4 KB (half Arabic, half English), one core\n")
    _print([_child(count, args.quick) for count in counts])


if __name__ == "__main__":
    main()

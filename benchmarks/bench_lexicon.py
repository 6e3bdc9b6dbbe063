"""Benchmark what expansion through the built-in lexicon costs: terms, compile time, articles/s.

    .venv/bin/python benchmarks/bench_lexicon.py            # 1,000 articles
    .venv/bin/python benchmarks/bench_lexicon.py --articles 200

Four configurations of config.example.toml's watchlists, each compiled and run over the same corpus
(bench_match.py's generated Arabic and English articles, plus the lexicon fixture articles):

- literal: every concept kept to its own terms (`expand = false` everywhere), as before the lexicon;
- expanded: the example as shipped (concepts reach the lexicon; one watchlist names @std entries);
- written out: the expanded terms typed into the concepts by hand, with `expand = false`: what the
  same reach costs without the lexicon, so expanded − written out is the cost of expansion itself;
- every entry: one watchlist per entry (`@std.NAME`), the whole lexicon compiled.

Compile time is the fastest of five builds of `Config.vocabulary()` + `compile_matcher`: "first"
with the lexicon's caches emptied before each (the file read and indexed again, as a new process's
first compile does), then with them kept (a reload in a running service). "cold" is the first pass
over the corpus with a fresh matcher, "warm" the best of five later passes; rates are articles per CPU-second. Each
configuration runs in a fresh child process, so no cache one warmed helps the next.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_match import make_corpus  # noqa: E402

from service import lexicon  # noqa: E402
from service.match import compile_matcher  # noqa: E402
from service.models import Item  # noqa: E402
from service.settings import ConceptConfig, Config, load_config  # noqa: E402

ARTICLES = REPO / "tests" / "lexicon" / "articles.toml"


def _fixture_items() -> list[Item]:
    articles = tomllib.loads(ARTICLES.read_text(encoding="utf-8"))["article"]
    return [Item(id=a["id"], feed="bench", title=a["title"], summary=a["text"]) for a in articles]


def _literal(config: Config, terms: Callable[[str], list[str]]) -> Config:
    concepts = {name: ConceptConfig(terms=terms(name), expand=False) for name in config.concepts}
    return config.model_copy(update={"concepts": concepts})


def _every_entry(config: Config) -> Config:
    watchlists = [
        config.watchlists[0].model_copy(update={"name": e.name, "query": f"@{e.reference}"})
        for e in lexicon.entries().values()
    ]
    return config.model_copy(update={"watchlists": watchlists})


def configurations() -> dict[str, Config]:
    example = load_config(REPO / "config.example.toml", {})
    return {
        "literal": _literal(example, lambda name: list(example.concepts[name].terms)),
        "expanded": example,
        "written out": _literal(example, lambda name: list(example.concept_terms(name))),
        "every entry": _every_entry(example),
    }


def _compile(config: Config, fresh: bool) -> Any:
    if fresh:  # as a new process does: the file read and indexed again
        lexicon.entries.cache_clear()
        lexicon._index.cache_clear()
    return compile_matcher(config.watchlist_defs(), config.vocabulary())


def _compile_ms(config: Config, fresh: bool) -> float:
    """The fastest of five builds, in milliseconds."""
    times = []
    for _ in range(5):
        start = time.process_time()
        _compile(config, fresh)
        times.append(time.process_time() - start)
    return min(times) * 1000


def _terms(config: Config) -> int:
    """Terms the compiled watchlists can use: every concept's terms, or every entry's."""
    vocabulary = config.vocabulary()
    referenced = {
        name for w in config.watchlist_defs() for name in vocabulary.concepts if f"@{name}" in w.query
    }
    return sum(len(vocabulary.concepts[name]) for name in referenced)


def _rate(matcher: Any, items: list[Item]) -> float:
    start = time.process_time()
    for item in items:
        matcher.match(item)
    return len(items) / (time.process_time() - start)


def measure(config: Config, items: list[Item]) -> dict[str, float]:
    first, again = _compile_ms(config, fresh=True), _compile_ms(config, fresh=False)
    start = time.process_time()
    lexicon.entries.cache_clear()
    lexicon._index.cache_clear()
    lexicon.expand(["rocket"])
    load = time.process_time() - start
    matcher = _compile(config, fresh=False)
    cold = _rate(matcher, items)
    warm = max(_rate(matcher, items) for _ in range(5))
    return {
        "terms": _terms(config),
        "first_ms": first,
        "again_ms": again,
        "load_ms": load * 1000,
        "cold": cold,
        "warm": warm,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--only", help=argparse.SUPPRESS)  # one configuration, in a child process
    args = parser.parse_args()
    if args.only:
        corpus, _, _ = make_corpus(args.articles)
        print(json.dumps(measure(configurations()[args.only], [*corpus, *_fixture_items()])))
        return
    print(f"{args.articles} generated + fixture articles; engine {_engine()}; best of 3 processes")
    print(
        f"{'configuration':<14}{'terms':>7}{'first compile ms':>18}{'compile ms':>12}{'cold art/s':>12}{'warm art/s':>12}"
    )
    for name in configurations():
        r = _child(name, args.articles)
        print(
            f"{name:<14}{r['terms']:>7.0f}{r['first_ms']:>18.1f}{r['again_ms']:>12.1f}"
            f"{r['cold']:>12.0f}{r['warm']:>12.0f}"
        )
    print(f"reading and indexing the lexicon (once per process): {r['load_ms']:.1f} ms")


def _child(name: str, articles: int) -> dict[str, float]:
    """The best of three child runs, metric by metric: a shared machine only ever slows a run."""
    command = [sys.executable, __file__, "--only", name, "--articles", str(articles)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same set and dict layouts in every child
    runs = [
        json.loads(subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout)
        for _ in range(3)
    ]
    best = {key: max(r[key] for r in runs) for key in ("terms", "cold", "warm")}
    return {**best, **{key: min(r[key] for r in runs) for key in ("first_ms", "again_ms", "load_ms")}}


def _engine() -> str:
    from service.match import engine_build

    return engine_build()


if __name__ == "__main__":
    main()

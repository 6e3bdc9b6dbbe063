"""The fast paths of matching give what the direct computations give.

- Cross-script names: searching windows only from the words that may start a name (found per
  chunk by the scanner) finds what a search over every word of the field finds.
- A whole matcher: `Matcher.match` gives the same matches, hits and offsets as `match_directly`,
  its reference twin, which scans each field in one automaton pass with the per-hit checks.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from service.match import compile_matcher
from service.match.entities import NameFound, build_indexes, find_names, find_names_from
from service.match.matcher import match_directly
from service.match.scan import Scanner
from service.models import EntityDef, EntityKind, Item, Match, Vocabulary, WatchlistDef
from service.text.normalise import normalise

SEED = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "seed-article.txt"

NAMES = [
    (0, "Esmail Qaani"),
    (1, "Mustafa al-Kadhimi"),
    (2, "Hadi al-Amiri"),
    (3, "Abu Fadak al-Mohammedawi"),
    (4, "مسعود بارزاني"),  # an Arabic-only name: sought in Latin text
]
WORDS = [
    *["إسماعيل", "اسماعیل", "قاآني", "قاانی", "مصطفى", "مصطفی", "الكاظمي", "كاظمي", "هادي", "العامري"],
    *["أبو", "فدك", "المحمداوي", "في", "من", "على", "بغداد", "صواريخ", "قال", "اسم", "سماء", "وصل"],
    *["masoud", "barzani", "mesud", "barzany", "al", "the", "in", "rocket"],
]
GAPS = [" ", " ", " ", "  ", ", ", ". ", "\n", " - ", "«", "» ", " 123 ", " xyz ", "،", "      "]


@st.composite
def texts(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.sampled_from([*WORDS, "ب" * 30, "بغداد" * 9]), max_size=30))
    gaps = draw(st.lists(st.sampled_from(GAPS), min_size=len(words), max_size=len(words)))
    return normalise("".join(word + gap for word, gap in zip(words, gaps, strict=True)))


INDEXES = build_indexes(NAMES)


def _names_from_chunks(norm: str, **lookahead: int) -> list[list[NameFound]]:
    scan = Scanner([], [], INDEXES).scan(0, norm, norm)
    assert scan.starters is not None
    return [find_names_from(norm, index, scan.starters[n], **lookahead) for n, index in enumerate(INDEXES)]


def test_both_scripts_have_an_index() -> None:
    assert {index.text_script for index in INDEXES} == {"A", "L"}


@settings(max_examples=300, deadline=None)
@given(texts())
def test_names_found_from_starting_words_are_those_found_over_every_word(norm: str) -> None:
    found = _names_from_chunks(norm)
    assert [sorted(f, key=repr) for f in found] == [
        sorted(find_names(norm, index), key=repr) for index in INDEXES
    ]


@settings(max_examples=200, deadline=None)
@given(texts())
def test_a_short_look_ahead_falls_back_to_the_rest_of_the_field(norm: str) -> None:
    found = _names_from_chunks(norm, lookahead=7)
    assert [sorted(f, key=repr) for f in found] == [
        sorted(find_names(norm, index), key=repr) for index in INDEXES
    ]


def test_a_name_is_found_from_its_first_word() -> None:
    norm = normalise("وصل إسماعيل قاآني إلى بغداد")
    (found,) = _names_from_chunks(norm)[:1]
    assert [norm[f.start : f.end] for f in found] == [normalise("إسماعيل قاآني")]


# ---------------------------------------------------------------- whole matcher

VOCABULARY = Vocabulary(
    concepts={"rocket": ("rocket", "missile", "صاروخ", "صواريخ", "كاتيوشا"), "attack": ("attack", "هجوم")},
    entities=(
        EntityDef("Baghdad International Airport", EntityKind.PLACE, ("مطار بغداد الدولي", "BGW")),
        EntityDef("Esmail Qaani", EntityKind.PERSON),
        EntityDef("Erbil", EntityKind.PLACE, ("أربيل", "اربيل")),
    ),
    plurals={"درون": ("درونات",), "f16": ("f-16s",)},
)
WATCHLISTS = [
    WatchlistDef("airport", '@rocket AND @"Baghdad International Airport"'),
    WatchlistDef("qaani", '@"Esmail Qaani"'),
    WatchlistDef("near", "@attack NEAR/5 (@Erbil OR بغداد)"),
    WatchlistDef("words", 'قاعدة OR "مطار بغداد" OR صوار* OR militia OR 3 OR درون OR f16', min_score=1),
    WatchlistDef("not", "rocket -drill"),
]


def random_items(rng: random.Random, pool: list[str], most_sentences: int) -> list[Item]:
    """Four items made of sentences from `pool`: a title, a summary or none, a content."""
    return [
        Item(
            id=str(n),
            feed="f",
            title=rng.choice(pool),
            summary=rng.choice(["", rng.choice(pool)]),
            content=" ".join(rng.choice(pool) for _ in range(rng.randint(1, most_sentences))),
        )
        for n in range(4)
    ]


def _sentences() -> list[str]:
    text = SEED.read_text(encoding="utf-8")
    return [s.strip() for s in text.replace("\n", ".").split(".") if s.strip()]


EXTRA = [
    "rockets hit BGW airport",
    "a rocket drill near Erbil attack",
    "سقطت الدرونات على القاعدة",
    "3.5 and 3 and 1,000",
    "f-16s and f16",
    "هجوم على أربيل واربيل",
    "مطَـارِ بغداد الدولي",
]


MatchItem = Callable[[Item], tuple[Match, ...]]


def assert_same_matches(fast: MatchItem, reference: MatchItem, items: list[Item]) -> None:
    """`fast` gives what `reference` gives on every item, cold and then warm."""
    wanted = [reference(item) for item in items]
    assert [fast(item) for item in items] == wanted
    assert [fast(item) for item in items] == wanted  # warm: every chunk remembered


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False))
def test_the_matcher_gives_what_one_pass_per_field_gives(rng: random.Random) -> None:
    items = random_items(rng, _sentences() + EXTRA, 12)
    fast = compile_matcher(WATCHLISTS, VOCABULARY).match
    reference = partial(match_directly, compile_matcher(WATCHLISTS, VOCABULARY))
    assert_same_matches(fast, reference, items)

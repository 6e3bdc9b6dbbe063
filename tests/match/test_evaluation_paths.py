"""Shortcuts taken while compiling and evaluating change nothing a caller can see.

- A term that is one run of Arabic letters skips the tokeniser: it must be the one ARABIC token
  the tokeniser would give.
- Evaluation skips every atom none of whose starting words occurs (and that has no cross-script
  name): the matches, hits and offsets must be those of `match_directly`, which looks every atom up.
"""

from __future__ import annotations

import random
from functools import partial
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from service.match import compile_matcher
from service.match.compile import _ARABIC_WORD
from service.match.matcher import match_directly
from service.models import EntityDef, EntityKind, Vocabulary, WatchlistDef
from service.text.tokenise import ARABIC, token_kinds
from tests.match.test_fast_paths import assert_same_matches, random_items

SEED = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "seed-article.txt"

ARABIC_RANGE = [chr(cp) for cp in range(0x0600, 0x0700)]


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from(ARABIC_RANGE + list("a1 .")), min_size=1, max_size=8))
def test_a_run_of_arabic_letters_is_the_one_token_the_tokeniser_gives(text: str) -> None:
    if _ARABIC_WORD.fullmatch(text):
        assert token_kinds(text) == [(text, ARABIC)]


def test_every_letter_of_the_fast_class_is_an_arabic_token() -> None:
    letters = [chr(cp) for cp in range(0x10000) if _ARABIC_WORD.fullmatch(chr(cp))]
    assert len(letters) == 41
    assert all(0x0621 <= ord(letter) <= 0x064A for letter in letters)
    for letter in letters:
        assert token_kinds(letter) == [(letter, ARABIC)]


VOCABULARY = Vocabulary(
    concepts={"rocket": ("rocket", "missile", "صاروخ", "صواريخ", "كاتيوشا"), "attack": ("attack", "هجوم")},
    entities=(
        EntityDef("Baghdad International Airport", EntityKind.PLACE, ("مطار بغداد الدولي", "BGW")),
        EntityDef("Esmail Qaani", EntityKind.PERSON),
        EntityDef("Erbil", EntityKind.PLACE, ("أربيل", "اربيل")),
    ),
)
WATCHLISTS = [
    WatchlistDef("airport", '@rocket AND @"Baghdad International Airport"'),
    WatchlistDef("qaani", '@"Esmail Qaani" OR (قاآني AND NOT drill)'),
    WatchlistDef("near", "@attack NEAR/5 (@Erbil OR بغداد)"),
    WatchlistDef("words", 'قاعدة OR "مطار بغداد" OR صوار* OR militia OR 3 OR (rocket -drill)', min_score=2),
    WatchlistDef("phrases", '"قائد فيلق" OR ("rocket drill" AND NOT BGW) OR إسماعيل^2'),
]
EXTRA = [
    "rockets hit BGW airport",
    "a rocket drill near Erbil attack",
    "3.5 and 3 and 1,000",
    "هجوم على أربيل واربيل",
    "مطَـارِ بغداد الدولي",
    "Esmail Qaani visited",
]


def _sentences() -> list[str]:
    text = SEED.read_text(encoding="utf-8")
    return [s.strip() for s in text.replace("\n", ".").split(".") if s.strip()] + EXTRA


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False))
def test_skipping_atoms_whose_words_are_absent_changes_no_match(rng: random.Random) -> None:
    items = random_items(rng, _sentences(), 10)
    fast = compile_matcher(WATCHLISTS, VOCABULARY).match
    reference = partial(match_directly, compile_matcher(WATCHLISTS, VOCABULARY))
    assert_same_matches(fast, reference, items)

"""The chunk-memo scanner finds exactly what one automaton pass with per-hit checks finds.

`Scanner.scan` splits a field on whitespace and remembers each chunk's whole-word hits across
fields and items; `scan_field` runs the automaton over the whole field and checks every raw hit in
place. Whatever the keys, rules and text (clitics, suffixes, numbers, punctuation, keys with
spaces that only the fallback automaton holds), cold or warm, the two must agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import ahocorasick_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.match import scan as scan_module
from service.match.scan import FieldScan, Scanner, chunk_safe, scan_field
from service.match.terms import EXACT, FEMININE_PLURAL, KEYWORD, NEEDS_SUFFIX, PREFIX
from service.text.normalise import normalise

LETTERS = "بكلفوالهتيناصرخدمab"
KEY_CHARS = LETTERS + "13.,-' "
PROCLITICS = ["", "", "و", "ب", "ال", "وال", "لل", "ك", "فب"]
SUFFIXES = ["", "", "ها", "ات", "ين", "ه", "ي", "كم", "s"]
GAPS = [" ", " ", "  ", "\n", ". ", ", ", "! ", "\t", "\u2028", "\x0b", "-", "."]

keys_strategy = st.lists(
    st.text(alphabet=KEY_CHARS, min_size=1, max_size=6), min_size=1, max_size=12, unique=True
)
rules_strategy = st.sets(st.sampled_from([EXACT, KEYWORD, NEEDS_SUFFIX, FEMININE_PLURAL, PREFIX]), min_size=1)


def _rules(draws: Sequence[set[int]]) -> list[tuple[tuple[int, int], ...]]:
    """Per key, its (variant, rule) pairs with fresh variant ids, PREFIX last (as compiled)."""
    rules, variant = [], 0
    for drawn in draws:
        pairs = []
        for rule in sorted(drawn):
            pairs.append((variant, rule))
            variant += 1
        rules.append(tuple(pairs))
    return rules


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[str], list[tuple[tuple[int, int], ...]], list[str]]:
    keys = draw(keys_strategy)
    rules = _rules([draw(rules_strategy) for _ in keys])
    words = st.one_of(
        st.builds(
            lambda p, k, s: p + k + s,
            st.sampled_from(PROCLITICS),
            st.sampled_from(keys),
            st.sampled_from(SUFFIXES),
        ),
        st.text(alphabet=LETTERS + "0123456789", min_size=1, max_size=8),
    )
    pieces = draw(st.lists(st.tuples(words, st.sampled_from(GAPS)), max_size=25))
    texts = [
        "".join(word + gap for word, gap in pieces[: len(pieces) // 2]),
        "".join(w + g for w, g in pieces),
    ]
    return keys, rules, texts


def _canonical(found: FieldScan) -> tuple[object, ...]:
    by_variant = {variant: sorted(starts) for variant, starts in found.by_variant.items()}
    return found.ends, found.at, by_variant


def _reference(keys: list[str], rules: Sequence[tuple[tuple[int, int], ...]], text: str) -> FieldScan:
    return scan_field(0, text, text, ahocorasick_rs.AhoCorasick(keys), rules)


@settings(max_examples=300, deadline=None)
@given(cases())
def test_the_chunk_scanner_agrees_with_one_pass_over_the_field(
    case: tuple[list[str], list[tuple[tuple[int, int], ...]], list[str]],
) -> None:
    keys, rules, texts = case
    scanner = Scanner(keys, rules)
    for _ in range(2):  # cold, then with every chunk remembered
        for text in texts:
            assert _canonical(scanner.scan(0, text, text)) == _canonical(_reference(keys, rules, text))


@settings(max_examples=100, deadline=None)
@given(cases())
def test_the_memo_starting_afresh_changes_nothing(
    case: tuple[list[str], list[tuple[tuple[int, int], ...]], list[str]],
) -> None:
    keys, rules, texts = case
    scanner = Scanner(keys, rules)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scan_module.ChunkMemo, "LIMIT", 3)
        for text in texts * 2:
            assert _canonical(scanner.scan(0, text, text)) == _canonical(_reference(keys, rules, text))


@pytest.mark.parametrize(
    ("key", "safe"),
    [
        ("بغداد", True),
        ("rocket", True),
        ("3.5", True),
        ("a b", False),
        ("-x", False),
        (" a", False),
        ("a\u2028", False),
    ],
)
def test_keys_with_whitespace_or_starting_with_punctuation_go_to_the_fallback(key: str, safe: bool) -> None:
    assert chunk_safe(key) is safe
    scanner = Scanner([key], [((0, EXACT),)])
    assert (scanner.automaton is not None) is safe
    assert (scanner.fallback is not None) is not safe


def test_a_phrase_key_is_found_across_whitespace_by_the_fallback() -> None:
    keys, rules = ["a b", "بغداد"], [((0, EXACT),), ((1, KEYWORD),)]
    text = normalise("x a b y وبغداد")
    found = Scanner(keys, rules).scan(0, text, text)
    assert _canonical(found) == _canonical(_reference(keys, rules, text))
    assert set(found.by_variant) == {0, 1}

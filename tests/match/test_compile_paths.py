"""Shortcuts taken while parsing and compiling change nothing a caller can see.

- parse_query skips the depth walk for short queries and the negation checks for queries with no
  NOT or `-`: whatever it accepts must pass both checks anyway.
- `_has_words` answers ASCII and letter-or-digit text without the tokeniser: it must agree with it.
- compile_matcher pauses the garbage collector and must leave it as it found it.
"""

from __future__ import annotations

import gc
import sys

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import QuerySyntaxError
from service.match import compile_matcher, parse_query
from service.match.query import MAX_DEPTH, _depth, _first_negation, _has_words, _negation_in_near
from service.models import Vocabulary, WatchlistDef
from service.text.normalise import normalise
from service.text.tokenise import has_tokens

PIECES = st.sampled_from(
    ["a", "b", "صاروخ", '"x y"', "@c", "f*", "AND", "OR", "NOT", "-", "(", ")", "NEAR/2", "^2", "x-y", " ", "-a"]
)  # fmt: skip


@settings(max_examples=500)
@given(st.lists(PIECES, max_size=30).map(" ".join))
def test_an_accepted_query_passes_the_checks_it_may_skip(text: str) -> None:
    try:
        tree = parse_query(text)
    except QuerySyntaxError:
        return
    assert _depth(tree) <= MAX_DEPTH
    assert _negation_in_near(tree) is None
    assert _first_negation(tree) is None


def test_a_long_near_chain_is_still_too_deep() -> None:
    with pytest.raises(QuerySyntaxError, match="nested too deeply"):
        parse_query(" NEAR/1 ".join(["a"] * (MAX_DEPTH + 2)))


@given(st.text(max_size=12))
def test_has_words_agrees_with_the_tokeniser(text: str) -> None:
    assert _has_words(text) == has_tokens(normalise(text))


def test_every_letter_or_digit_is_a_token_character() -> None:
    token_char = regex.compile(r"(?V1)[\p{L}\p{M}\p{N}]")
    assert all(token_char.match(chr(cp)) for cp in range(sys.maxunicode + 1) if chr(cp).isalnum())


@pytest.mark.parametrize("enabled", [True, False])
def test_compiling_leaves_the_garbage_collector_as_it_was(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        compile_matcher([WatchlistDef("w", "a OR b")], Vocabulary())
        assert gc.isenabled() is enabled
        with pytest.raises(QuerySyntaxError):
            compile_matcher([WatchlistDef("w", "@nothing")], Vocabulary())
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()

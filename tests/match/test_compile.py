"""Shortcuts taken while compiling change nothing a caller can see.

- compile_matcher pauses the garbage collector and must leave it as it found it.
- A term that is one run of Arabic letters skips the tokeniser: it must be the one ARABIC token
  the tokeniser would give.
"""

from __future__ import annotations

import gc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import QuerySyntaxError
from service.match import compile_matcher
from service.match.compile import _ARABIC_WORD
from service.models import Vocabulary, WatchlistDef
from service.text.tokenise import ARABIC, token_kinds


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

"""Tokens are whole words; a change of script splits a token, marks stay inside words."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.text import normalise, tokenise
from service.text.tokenise import ARABIC, count_tokens


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("والـPMF", ["وال", "pmf"]),
        ("3صواريخ", ["3", "صواريخ"]),
        ("موشک‌ها", ["موشك", "ها"]),
        ("F-16 jets, 3.5 km", ["f", "16", "jets", "3.5", "km"]),
        ("rocket's", ["rocket", "s"]),
        ("«الحشد الشعبي»", ["الحشد", "الشعبي"]),
    ],
)
def test_tokenise_splits_words_and_scripts(text: str, tokens: list[str]) -> None:
    assert [t.text for t in tokenise(normalise(text))] == tokens


def test_marks_stay_inside_words_even_before_normalising() -> None:
    assert [t.text for t in tokenise("مُصْطَفَى الكاظمي")] == ["مُصْطَفَى", "الكاظمي"]


@given(st.text())
def test_tokens_are_ordered_non_empty_slices_of_the_text(text: str) -> None:
    previous = 0
    for token in tokenise(text):
        assert token.text == text[token.start : token.end] != ""
        assert token.start >= previous
        previous = token.end


@given(st.text(), st.integers(min_value=0, max_value=5))
def test_count_tokens_stops_just_past_the_limit(text: str, limit: int) -> None:
    assert count_tokens(text, limit) == min(len(tokenise(text)), limit + 1)


WORDY = st.text(
    alphabet=st.sampled_from(list("ab بغداد3.,-_ \n\t\r\u2028\u00a0\x0béـَ٣۔ۿݐ\u0600\u06ff")), max_size=60
)


def test_every_letter_of_the_arabic_block_is_an_arabic_letter() -> None:
    """What lets a new chunk of letters of U+0600..U+06FF count as one token without the regex."""
    for code in range(0x600, 0x700):
        if chr(code).isalpha():
            assert [t.kind for t in tokenise(chr(code) * 2)] == [ARABIC], hex(code)


@given(WORDY, st.integers(min_value=0, max_value=12))
def test_count_tokens_by_chunk_agrees_with_tokenising_whatever_the_whitespace(text: str, limit: int) -> None:
    for _ in range(2):  # the second time every chunk is remembered
        assert count_tokens(text, limit) == min(len(tokenise(text)), limit + 1)

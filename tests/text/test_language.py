"""detect_language tells ar, fa, ckb, ur and en apart offline, and abstains on too little text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.text import detect_language, tokenise
from service.text.language import (
    _letter_counts,
)
from service.text.tokenise import ARABIC, NUMBER


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("زيارة مرفقة بهجمات… قاآني يصل بغداد للقاء قادة الفصائل", "ar"),
        ("حمله موشکی به فرودگاه بغداد انجام شد و یک پهپاد سرنگون شد", "fa"),
        ("هێرشی مووشەکی بۆ سەر فڕۆکەخانەی هەولێر کرا", "ckb"),
        ("بغداد ہوائی اڈے پر راکٹ حملہ، کوئی جانی نقصان نہیں ہوا", "ur"),
        ("Rockets hit a base near Baghdad International Airport on Wednesday", "en"),
    ],
)
def test_detect_language_names_the_language(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize("text", ["", "ok", "بغداد", "  3 4 5  "])
def test_detect_language_abstains_on_too_little_text(text: str) -> None:
    assert detect_language(text) is None


def test_one_stray_sorani_letter_does_not_relabel_an_arabic_article(seed_text: str) -> None:
    assert detect_language(seed_text + " ڤيكتوريا") == "ar"


def _letter_counts_by_tokens(text: str) -> tuple[int, int]:
    """The definition: letters of Arabic-script tokens, and of all word tokens (not numbers)."""
    arabic = total = 0
    for token in tokenise(text):
        if token.kind == ARABIC:
            arabic += len(token.text)
        if token.kind != NUMBER:
            total += len(token.text)
    return arabic, total


@given(
    st.text() | st.text(alphabet=st.sampled_from(list("بغداد قاآني مُصْطَفَى ـ 3.5 NATO Türkiye ۳ ڤ ę\u0301,")))
)
def test_letters_are_counted_as_the_tokens_count_them(text: str) -> None:
    assert _letter_counts(text) == _letter_counts_by_tokens(text)

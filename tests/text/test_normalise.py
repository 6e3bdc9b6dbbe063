"""normalise folds Arabic, Persian and Kurdish spelling variants, is idempotent, and maps offsets back."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.text import normalise, normalise_with_offsets, tokenise
from service.text.normalise import (
    _FREQUENT,
    _MANY,
    _SHORT_TEXT,
    _folder,
    _normalise_marked_python,
    _normalise_reference,
    _table,
    normalise_marked,
)

ARABIC_TEXT = st.text(
    alphabet=st.sampled_from(list("مطارصوخبغدكاظميةىیکأإآٱؤئءًٌٍَُِّْـ\u200c\u200f ٣۳ABC é.,؟ﻻß½")),
    max_size=40,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("مُصْطَفَى", "مصطفي"),  # harakat and alef maksura
        ("مطَـارِ", "مطار"),  # tatweel inside a vocalised word
        ("أحمد إبراهيم آمال ٱلله", "احمد ابراهيم امال الله"),  # alef forms and wasla
        ("مسؤول مسئول", "مسوول مسيول"),  # hamza seats
        ("قاعدة", "قاعده"),  # teh marbuta
        ("کاظمی", "كاظمي"),  # Persian keheh and yeh
        ("موشک\u200cها", "موشك ها"),  # ZWNJ splits a Persian affix
        ("\u200fبغداد\u200e", "بغداد"),  # bidi marks
        ("٣ صواريخ و۱۲", "3 صواريخ و12"),  # Arabic and Persian digits
        ("ﻻ", "لا"),  # presentation form
        ("NATO Türkiye Mesûd", "nato turkiye mesud"),  # case and Latin accents
        ("ماذا؟ نعم، لا؛", "ماذا? نعم, لا;"),  # Arabic punctuation
        ("وابلاً", "وابلا"),  # tanween
        ("ڤیکتۆریا", "فيكتوريا"),  # Sorani letters
    ],
)
def test_normalise_folds_spelling_variants(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_normalise_keeps_standalone_hamza_and_persian_letters() -> None:
    assert normalise("ماء گرم پل چای ژاله") == "ماء گرم پل چاي ژاله"


@given(st.text())
def test_normalise_is_idempotent_and_total(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


@given(st.text(), st.text())
def test_normalise_works_character_by_character(left: str, right: str) -> None:
    assert normalise(left + right) == normalise(left) + normalise(right)


@given(st.one_of(st.text(), ARABIC_TEXT))
def test_every_token_maps_back_to_the_original_text(text: str) -> None:
    mapped = normalise_with_offsets(text)
    assert mapped.text == normalise(text)
    for token in tokenise(mapped.text):
        first, last = mapped.original_span(token.start, token.end)
        assert 0 <= first <= last <= len(text)
        assert token.text in normalise(text[first:last])


@pytest.mark.parametrize(
    ("text", "word", "surface"),
    [
        ("قرب مطَـارِ بغداد", "مطار", "مطَـارِ"),
        ("هجوم بصاروخَين", "بصاروخين", "بصاروخَين"),
        ("\u200fﻻ\u200f شيء", "لا", "ﻻ"),
        ("Straße closed", "strasse", "Straße"),
    ],
)
def test_a_span_maps_back_to_the_surface_form_as_written(text: str, word: str, surface: str) -> None:
    mapped = normalise_with_offsets(text)
    start = mapped.text.index(word)
    first, last = mapped.original_span(start, start + len(word))
    assert text[first:last] == surface


# Long enough for the scanning path (not one translate()), with the frequent characters that change
# length (harakat, tatweel, the ellipsis, bidi marks) and rare ones (ﻻ, ß, ½, a Quranic mark).
LONG_TEXT = st.text(
    alphabet=st.sampled_from(list("مطارصوخبغدكاظمية ىیکأإآٱؤئًٌٍَُِّْـ\u200c\u200f…ABC é.,؟ﻻß½\u06d6")),
    min_size=49,
    max_size=120,
)


@given(st.one_of(st.text(), ARABIC_TEXT, LONG_TEXT))
def test_normalise_marked_says_when_the_quick_offsets_are_exact(text: str) -> None:
    folded, moved = normalise_marked(text)
    assert folded == normalise(text)
    reference = normalise_with_offsets(text, folded)
    quick = normalise_with_offsets(text, folded, moved=moved)
    assert quick == reference


def test_an_arabic_article_with_harakat_and_an_ellipsis_needs_no_regex_for_its_offsets() -> None:
    text = "قصف مطَـارِ بغداد الدولي بصواريخَ كاتيوشا… " * 3
    folded, moved = normalise_marked(text)
    assert moved is not None and set(moved) == {"ـ", "َ", "ِ", "…"}
    mapped = normalise_with_offsets(text, folded, moved=moved)
    start = folded.index("مطار")
    first, last = mapped.original_span(start, start + 4)
    assert text[first:last] == "مطَـارِ"


def test_a_ligature_in_a_long_text_is_named_or_marked_unknown() -> None:
    text = "ﻻ " + "بغداد " * 10
    folded, moved = normalise_marked(text)
    assert moved in (None, ("ﻻ",))  # the Python path only knows it holds an unusual one; C says which
    assert _normalise_marked_python(text)[1] is None
    assert normalise_with_offsets(text, folded, moved=moved).original_span(0, 2) == (0, 1)


# ------------------------------------------------------------------------------------------------
# The fast normaliser is the step-by-step one (`_normalise_reference`), character for character.
#
# `normalise` folds text from a per-character table built out of the reference pipeline: with the C
# folder where it was built, else with the Python path (`_normalise_marked_python`: a `translate`
# path for short strings, a replace-per-distinct-character path for long ones and the reference
# itself for text with very many distinct characters to fold). Each folder, the Python one in every
# build and the C one where it was built, must give the reference's output exactly.


# Arabic, Persian and Sorani letters and their variants, harakat, Quranic marks, tatweel, bidi and
# zero-width characters, Arabic and Persian digits and punctuation, presentation forms, Latin with
# accents and case, ligatures, CJK compatibility ideographs and astral characters (emoji,
# mathematical letters, a variation selector).
MIXED = st.sampled_from(
    list(
        "مطارصوخبغدكاظميةىیکأإآٱؤئءـًٌٍَُِّْٰ\u0610\u06d6ۀہەھڕڵڤێۆ"
        "\u200c\u200d\u200e\u200f\u061c\u202a\u2066\ufeff\u00ad \n\t.,،؛؟"
        "٠٣٩۰۳۹0123ﻻﺑﷺ"
        "ABCabcÉéÇçßİıΣσςǅﬁ½²…\u00a0\u2003"
        "丽\U0002f800"
        "\U0001f600\U0001d400\U000e0100\U00010400"
    )
)
TEXT = st.text(alphabet=MIXED, max_size=300)

Marked = Callable[[str], tuple[str, tuple[str, ...] | None]]


def _folders() -> list[object]:
    """Each way to fold non-ASCII text, and whether it always names the characters that change
    length (the C folder does; the Python path only when they are all frequent ones)."""
    folder = _folder()
    c_folder = [] if folder is None else [pytest.param(folder.fold, True, id="c")]
    return [pytest.param(_normalise_marked_python, False, id="python"), *c_folder]


FOLDERS = pytest.mark.parametrize(("fold", "names_all"), _folders())


def assert_moved(text: str, moved: tuple[str, ...] | None, names_all: bool) -> None:
    """`moved` names the characters of `text` that change length, in order of first occurrence
    (or, from the Python path, as a set or not at all)."""
    resized = [c for c in dict.fromkeys(text) if len(_normalise_reference(c)) != 1]
    if names_all:
        assert moved == tuple(resized)
    elif moved is not None:
        assert set(moved) == set(resized)


@FOLDERS
def test_every_code_point_folds_as_the_reference_does(fold: Marked, names_all: bool) -> None:
    # One by one where Unicode assigns characters that fold (planes 0-2 and 14)...
    assigned = [chr(cp) for cp in [*range(0x30000), *range(0xE0000, 0xE1000)] if not 0xD800 <= cp <= 0xDFFF]
    assert [c for c in assigned if normalise(c) != _normalise_reference(c)] == []
    assert [c for c in assigned if not c.isascii() and fold(c)[0] != _normalise_reference(c)] == []
    # ...and in blocks in the other planes (unassigned and private use: nothing there folds).
    rest = [cp for cp in range(0x30000, sys.maxunicode + 1) if not 0xE0000 <= cp < 0xE1000]
    for start in range(0, len(rest), 4096):
        block = "".join(map(chr, rest[start : start + 4096]))
        assert normalise(block) == _normalise_reference(block) == block


def test_no_folded_output_holds_a_character_that_folds_again() -> None:
    output = _table().output
    assert not any(char in output for folded in output.values() for char in folded)


def test_the_frequent_characters_are_all_in_the_table() -> None:
    assert all(char in _table().output for char in _FREQUENT)


@FOLDERS
@settings(max_examples=300)
@given(TEXT)
def test_random_mixed_script_text_folds_as_the_reference_does(
    fold: Marked, names_all: bool, text: str
) -> None:
    assert normalise(text) == _normalise_reference(text)
    if not text.isascii():
        assert fold(text)[0] == _normalise_reference(text)


@FOLDERS
@settings(max_examples=100)
@given(st.lists(TEXT, min_size=2, max_size=5))
def test_long_texts_take_the_replace_path_and_agree(fold: Marked, names_all: bool, parts: list[str]) -> None:
    text = "كلمة " * 20 + "".join(parts)  # past _SHORT_TEXT, so not the translate path
    assert len(text) > _SHORT_TEXT
    assert fold(text)[0] == _normalise_reference(text)


@FOLDERS
def test_text_with_many_distinct_characters_to_fold_agrees(fold: Marked, names_all: bool) -> None:
    folded = sorted(_table().output)[: _MANY * 3]
    text = "x " + " ".join(folded)
    assert len(set(text) & set(folded)) > _MANY
    assert fold(text)[0] == _normalise_reference(text)


@settings(max_examples=200)
@given(TEXT)
def test_offsets_follow_the_reference_character_by_character(text: str) -> None:
    """Each original character lands where the reference's per-character lengths put it."""
    mapped = normalise_with_offsets(text)
    position = 0
    for index, char in enumerate(text):
        size = len(_normalise_reference(char))
        if size:
            assert mapped.original_offset(position) == index
        position += size
    assert position == len(mapped.text) == len(_normalise_reference(text))


@FOLDERS
@given(st.one_of(TEXT, st.text(max_size=80)))
def test_each_folder_names_the_characters_that_change_length(
    fold: Marked, names_all: bool, text: str
) -> None:
    """Where the C folder was built, normalise uses it; it must name exactly the characters that
    change length, in order of first occurrence, and the Python path must name them or say None."""
    if text.isascii():
        return  # both lower-case it without a table
    folded, moved = fold(text)
    assert folded == normalise_marked(text)[0] == _normalise_reference(text)
    assert_moved(text, moved, names_all)


def test_the_c_folder_is_built_where_the_engine_is_compiled() -> None:
    from service.match import engine_build

    assert (_folder() is not None) is (engine_build() == "compiled")


@FOLDERS
def test_a_folder_returns_text_that_does_not_change_as_it_is(fold: Marked, names_all: bool) -> None:
    text = "بغداد والبصري 2024 ok"  # no character to fold
    folded, moved = fold(text)
    assert folded == text
    assert_moved(text, moved, names_all)
    ligature = "ﻻ شيء"  # a ligature becomes two letters
    assert_moved(ligature, fold(ligature)[1], names_all)


@FOLDERS
def test_a_folder_names_hundreds_of_distinct_length_changing_characters_in_order(
    fold: Marked, names_all: bool
) -> None:
    marks = [chr(cp) for cp in range(0x0300, 0x0370)] + [chr(cp) for cp in range(0x064B, 0x0660)]
    text = "".join(f"a{mark}" for mark in marks * 3)  # 133 distinct marks, each three times
    folded, moved = fold(text)
    assert folded == _normalise_reference(text) == "a" * len(marks) * 3
    assert_moved(text, moved, names_all)

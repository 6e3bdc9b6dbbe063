"""The fast normaliser is the step-by-step one (`_normalise_reference`), character for character.

`normalise` folds text from a per-character table built out of the reference pipeline, with a
`translate` path for short strings, a replace-per-distinct-character path for long ones and the
reference itself for text with very many distinct characters to fold. Each path must give the
reference's output exactly.
"""

from __future__ import annotations

import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from service.text.normalise import (
    _FREQUENT,
    _MANY,
    _SHORT_TEXT,
    _folder,
    _normalise_marked_python,
    _normalise_reference,
    _table,
    normalise,
    normalise_marked,
    normalise_with_offsets,
)

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


def test_every_code_point_folds_as_the_reference_does() -> None:
    # One by one where Unicode assigns characters that fold (planes 0-2 and 14)...
    assigned = [*range(0x30000), *range(0xE0000, 0xE1000)]
    mismatched = [
        cp
        for cp in assigned
        if not 0xD800 <= cp <= 0xDFFF and normalise(chr(cp)) != _normalise_reference(chr(cp))
    ]
    assert mismatched == []
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


@settings(max_examples=300)
@given(TEXT)
def test_random_mixed_script_text_folds_as_the_reference_does(text: str) -> None:
    assert normalise(text) == _normalise_reference(text)


@settings(max_examples=100)
@given(st.lists(TEXT, min_size=2, max_size=5))
def test_long_texts_take_the_replace_path_and_agree(parts: list[str]) -> None:
    text = "كلمة " * 20 + "".join(parts)  # past _SHORT_TEXT, so not the translate path
    assert len(text) > _SHORT_TEXT
    assert normalise(text) == _normalise_reference(text)


def test_text_with_many_distinct_characters_to_fold_agrees() -> None:
    folded = sorted(_table().output)[: _MANY * 3]
    text = "x " + " ".join(folded)
    assert len(set(text) & set(folded)) > _MANY
    assert normalise(text) == _normalise_reference(text)


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


@given(st.one_of(TEXT, st.text(max_size=80)))
def test_the_c_folder_and_the_python_path_agree(text: str) -> None:
    """Where the C folder was built, normalise uses it; the Python path must give the same text, and
    the folder must name exactly the characters that change length, in order of first occurrence."""
    if text.isascii():
        return  # both lower-case it without a table
    folded, moved = normalise_marked(text)
    python, python_moved = _normalise_marked_python(text)
    assert folded == python == _normalise_reference(text)
    resized = [c for c in dict.fromkeys(text) if len(_normalise_reference(c)) != 1]
    if _folder() is not None:
        assert moved == tuple(resized)
    if python_moved is not None:
        assert set(python_moved) == set(resized)


def test_the_c_folder_is_built_where_the_engine_is_compiled() -> None:
    from service.match import engine_build

    assert (_folder() is not None) is (engine_build() == "compiled")


def test_the_c_folder_returns_text_that_does_not_change_as_it_is() -> None:
    text = "بغداد والبصري 2024 ok"  # no character to fold
    folded, moved = normalise_marked(text)
    assert folded == text and moved == ()
    assert normalise_marked("ﻻ شيء")[1] == ("ﻻ",)  # a ligature becomes two letters


def test_the_folder_names_hundreds_of_distinct_length_changing_characters_in_order() -> None:
    marks = [chr(cp) for cp in range(0x0300, 0x0370)] + [chr(cp) for cp in range(0x064B, 0x0660)]
    text = "".join(f"a{mark}" for mark in marks * 3)  # 133 distinct marks, each three times
    folded, moved = normalise_marked(text)
    assert folded == _normalise_reference(text) == "a" * len(marks) * 3
    if _folder() is not None:
        assert moved == tuple(marks)

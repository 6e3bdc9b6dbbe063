"""Kurdish terms are recognised by the letters only Sorani or Kurmanji writes; the suffix lists
depend on how the stem ends; a Sorani word is one written with a Sorani letter."""

from __future__ import annotations

import pytest

from service.text.clitics import SUFFIXES
from service.text.kurdish import (
    KURMANJI,
    KURMANJI_AFTER_CONSONANT,
    KURMANJI_AFTER_VOWEL,
    SORANI,
    SORANI_AFTER_CONSONANT,
    SORANI_AFTER_VOWEL,
    ends_in_vowel,
    sorani_written,
    term_dialect,
)
from service.text.normalise import normalise


@pytest.mark.parametrize(
    ("term", "dialect"),
    [
        ("هێرش", SORANI),  # ێ
        ("درۆن", SORANI),  # ۆ
        ("فڕۆکەخانە", SORANI),
        ("هێرشی درۆن", SORANI),  # a phrase: one Sorani word makes it Sorani
        ("êrîş", KURMANJI),  # circumflex vowels
        ("kuştin", KURMANJI),  # ş without a letter only Turkish writes
        ("balafirgeh", ""),  # plain ASCII: English spelling rules, as before
        ("saldırı", ""),  # Turkish ı
        ("çatışma", ""),
        ("hücum", ""),
        ("صاروخ", ""),
        ("موشک", ""),  # Persian
        ("rocket", ""),
    ],
)
def test_a_term_is_kurdish_by_letters_only_that_language_writes(term: str, dialect: str) -> None:
    assert term_dialect(term) == dialect


@pytest.mark.parametrize(
    ("stem", "vowel"),
    [("درۆن", False), ("فڕۆکە", True), ("چیا", True), ("êrîş", False), ("dîwar", False), ("bajarvanî", True)],
)
def test_the_stem_ending_chooses_the_suffix_list(stem: str, vowel: bool) -> None:
    assert ends_in_vowel(normalise(stem)) is vowel


@pytest.mark.parametrize(
    ("written", "suffix"),
    [
        ("ێک", "يك"),
        ("ێکدا", "يكدا"),
        ("ەکە", "هكه"),
        ("ەکان", "هكان"),
        ("ەکانی", "هكاني"),
        ("ەکانەوە", "هكانهوه"),
    ],
)
def test_the_sorani_lists_hold_the_suffixes_as_normalised(written: str, suffix: str) -> None:
    assert normalise(written) == suffix
    assert suffix in SORANI_AFTER_CONSONANT


@pytest.mark.parametrize(
    ("written", "suffix"), [("کە", "كه"), ("کان", "كان"), ("یەک", "يهك"), ("کانی", "كاني")]
)
def test_after_a_vowel_sorani_drops_the_linking_vowel(written: str, suffix: str) -> None:
    assert normalise(written) == suffix
    assert suffix in SORANI_AFTER_VOWEL


@pytest.mark.parametrize(
    ("written", "vowel"), [("ê", False), ("ên", False), ("ekê", False), ("yê", True), ("yek", True)]
)
def test_the_kurmanji_lists_hold_the_suffixes_as_normalised(written: str, vowel: bool) -> None:
    assert normalise(written) in (KURMANJI_AFTER_VOWEL if vowel else KURMANJI_AFTER_CONSONANT)


def test_the_sorani_lists_leave_out_what_the_arabic_rules_already_allow() -> None:
    assert not (SORANI_AFTER_CONSONANT | SORANI_AFTER_VOWEL) & SUFFIXES


@pytest.mark.parametrize(
    ("word", "sorani"),
    [
        ("هێرشێک", True),
        ("درۆنەکە", True),
        ("هیرشیک", False),
        ("باریک", False),
        ("روحاني", False),
        ("attack", False),
    ],
)
def test_a_sorani_word_is_written_with_a_sorani_letter(word: str, sorani: bool) -> None:
    assert sorani_written(word) is sorani

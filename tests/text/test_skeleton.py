"""Consonant skeletons give one key to a full name in every script and transliteration."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.text.normalise import normalise
from service.text.skeleton import (
    collapse_doubles,
    latin_skeletons_by_units,
    latin_token_skeletons,
    latin_vowelled_keys,
    name_skeletons,
    vowels_agree,
)


@pytest.mark.parametrize(
    ("names", "key"),
    [
        (["Esmail Qaani", "Ismail Qa'ani", "Esmaeil Ghaani", "إسماعيل قاآني", "اسماعیل قاآنی"], "SMLKN"),
        (["Mustafa al-Kadhimi", "Mostafa Kazemi", "مصطفى الكاظمي", "مصطفی کاظمی"], "MSTFKDM"),
        (["Masoud Barzani", "Mesûd Barzanî", "مسعود بارزاني"], "MSDBRDN"),
        (["Nasrallah", "نصر الله"], "NSRL"),
    ],
)
def test_spellings_of_one_name_share_a_key(names: list[str], key: str) -> None:
    for name in names:
        assert key in name_skeletons(name)[1], name


def test_different_names_with_shared_parts_get_different_keys() -> None:
    assert name_skeletons("Ismail Haniyeh")[1].isdisjoint(name_skeletons("Esmail Qaani")[1])


def test_mixed_script_names_get_no_key() -> None:
    assert name_skeletons("Qaani قاآني") == ("", frozenset())


@given(st.text(alphabet=st.sampled_from(list("aabbکك\n\nHh ")), max_size=30))
def test_collapsing_doubles_does_what_the_regex_did(key: str) -> None:
    assert collapse_doubles(key) == re.sub(r"(.)\1+", r"\1", key)


@given(st.text(alphabet=st.sampled_from(list("abcdeghijkosvxz")), max_size=12))
def test_the_letter_by_letter_path_gives_what_the_units_give(token: str) -> None:
    if token not in {"al", "el", "as", "ash", "ad", "an", "ar", "at", "az", "ul", "ath", "adh", "ed", "es"}:
        assert latin_token_skeletons(token) == latin_skeletons_by_units(token)


@pytest.mark.parametrize(
    ("arabic", "latin", "agree"),
    [
        ("خور", "khor", True),
        ("مور", "mor", True),
        ("خير", "khor", False),  # ي where the romanisation has o
        ("هذا", "hadi", False),  # a final ا where it has i
        ("هادي", "hadi", True),
        ("اسماعيل", "esmail", True),
        ("قاآني", "qaani", True),
        ("نصر", "nasr", True),
        ("تنف", "tanf", True),
        ("تنافي", "tanf", False),
    ],
)
def test_long_vowel_letters_need_a_vowel_in_the_romanisation(arabic: str, latin: str, agree: bool) -> None:
    assert vowels_agree(normalise(arabic), latin) is agree


@pytest.mark.parametrize(
    ("names", "other"),
    [
        (["Esmail Qaani", "Ismail Ghaani", "Esmaeil Qa'ani", "Esmail Qani"], "small can"),
        (["Mustafa al-Kadhimi", "Mostafa el-Kazemi", "Moustafa ul-Kadhemi"], "mist of a kid me"),
    ],
)
def test_latin_romanisations_share_a_vowelled_key_that_english_words_do_not(
    names: list[str], other: str
) -> None:
    keys = [latin_vowelled_keys(name) for name in names]
    assert all(not key.isdisjoint(keys[0]) for key in keys), names
    assert latin_vowelled_keys(other).isdisjoint(keys[0])

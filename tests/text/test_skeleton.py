"""Consonant skeletons give one key to a full name in every script and transliteration."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.text.skeleton import collapse_doubles, name_skeletons


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

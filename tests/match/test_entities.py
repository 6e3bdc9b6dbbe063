"""Cross-script names: searching windows only from the words that may start a name (found per chunk
by the scanner, `find_names_from`) finds what a search over every word of the field (`find_names`)
finds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from service.match.entities import NameFound, build_indexes, find_names, find_names_from
from service.match.scan import Scanner
from service.text.normalise import normalise

NAMES = [
    (0, "Esmail Qaani"),
    (1, "Mustafa al-Kadhimi"),
    (2, "Hadi al-Amiri"),
    (3, "Abu Fadak al-Mohammedawi"),
    (4, "مسعود بارزاني"),  # an Arabic-only name: sought in Latin text
]
WORDS = [
    *["إسماعيل", "اسماعیل", "قاآني", "قاانی", "مصطفى", "مصطفی", "الكاظمي", "كاظمي", "هادي", "العامري"],
    *["أبو", "فدك", "المحمداوي", "في", "من", "على", "بغداد", "صواريخ", "قال", "اسم", "سماء", "وصل"],
    *["masoud", "barzani", "mesud", "barzany", "al", "the", "in", "rocket"],
]
GAPS = [" ", " ", " ", "  ", ", ", ". ", "\n", " - ", "«", "» ", " 123 ", " xyz ", "،", "      "]


@st.composite
def texts(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.sampled_from([*WORDS, "ب" * 30, "بغداد" * 9]), max_size=30))
    gaps = draw(st.lists(st.sampled_from(GAPS), min_size=len(words), max_size=len(words)))
    return normalise("".join(word + gap for word, gap in zip(words, gaps, strict=True)))


INDEXES = build_indexes(NAMES)


def _names_from_chunks(norm: str, **lookahead: int) -> list[list[NameFound]]:
    scan = Scanner([], [], INDEXES).scan(0, norm, norm)
    assert scan.starters is not None
    return [find_names_from(norm, index, scan.starters[n], **lookahead) for n, index in enumerate(INDEXES)]


def test_both_scripts_have_an_index() -> None:
    assert {index.text_script for index in INDEXES} == {"A", "L"}


@settings(max_examples=300, deadline=None)
@given(texts())
def test_names_found_from_starting_words_are_those_found_over_every_word(norm: str) -> None:
    found = _names_from_chunks(norm)
    assert [sorted(f, key=repr) for f in found] == [
        sorted(find_names(norm, index), key=repr) for index in INDEXES
    ]


@settings(max_examples=200, deadline=None)
@given(texts())
def test_a_short_look_ahead_falls_back_to_the_rest_of_the_field(norm: str) -> None:
    found = _names_from_chunks(norm, lookahead=7)
    assert [sorted(f, key=repr) for f in found] == [
        sorted(find_names(norm, index), key=repr) for index in INDEXES
    ]


def test_a_name_is_found_from_its_first_word() -> None:
    norm = normalise("وصل إسماعيل قاآني إلى بغداد")
    (found,) = _names_from_chunks(norm)[:1]
    assert [norm[f.start : f.end] for f in found] == [normalise("إسماعيل قاآني")]

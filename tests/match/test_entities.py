"""Cross-script names: searching windows only from the words that may start a name (found per chunk
by the scanner, `find_names_from`) finds what a search over every word of the field (`find_names`)
finds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.match import compile_matcher
from service.match.entities import (
    _BREAKS,
    NameFound,
    SkeletonIndex,
    StartFinders,
    build_indexes,
    find_names,
    find_names_from,
    starter_offsets_by_words,
)
from service.match.matcher import match_directly
from service.match.scan import Scanner
from service.models import EntityDef, EntityKind, Item, Vocabulary, WatchlistDef
from service.text.normalise import normalise
from service.text.skeleton import arabic_token_skeleton, latin_token_skeletons, name_start_finder

NAMES = [
    (0, "Esmail Qaani"),
    (1, "Mustafa al-Kadhimi"),
    (2, "Hadi al-Amiri"),
    (3, "Abu Fadak al-Mohammedawi"),
    (4, "مسعود بارزاني"),  # an Arabic-only name: sought in Latin text
    (5, "Khor Mor"),  # short: word for word
    (6, "Al-Tanf"),  # one word: beside a context word
    (7, "أبو مهدي المهندس"),
]
WORDS = [
    *["إسماعيل", "اسماعیل", "قاآني", "قاانی", "مصطفى", "مصطفی", "الكاظمي", "كاظمي", "هادي", "العامري"],
    *["أبو", "فدك", "المحمداوي", "في", "من", "على", "بغداد", "صواريخ", "قال", "اسم", "سماء", "وصل"],
    *["masoud", "barzani", "mesud", "barzany", "al", "the", "in", "rocket"],
    *["خور", "مور", "خير", "قاعدة", "التنف", "ابو", "مهدي", "المهندس", "abu", "mahdi", "muhandis"],
    *["esmaeil", "ghaani", "qa", "ani", "base", "tanf", "ismail"],
]
GAPS = [" ", " ", " ", "  ", ", ", ". ", "\n", " - ", "«", "» ", " 123 ", " xyz ", "،", "      "]


@st.composite
def texts(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.sampled_from([*WORDS, "ب" * 30, "بغداد" * 9]), max_size=30))
    gaps = draw(st.lists(st.sampled_from(GAPS), min_size=len(words), max_size=len(words)))
    return normalise("".join(word + gap for word, gap in zip(words, gaps, strict=True)))


INDEXES = build_indexes(NAMES, people=range(len(NAMES)))


def _names_from_chunks(norm: str, **lookahead: int) -> list[list[NameFound]]:
    scan = Scanner([], [], INDEXES).scan(0, norm, norm)
    assert scan.starters is not None
    return [find_names_from(norm, index, scan.starters[n], **lookahead) for n, index in enumerate(INDEXES)]


def test_both_scripts_have_an_index() -> None:
    assert {index.text_script for index in INDEXES} == {"A", "L"}
    assert [index.vowelled for index in INDEXES] == [False, False, True]


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


# -- names of every shape, per language: (entity, aliases, text)

ENTITY_KINDS = {
    "Khor Mor": EntityKind.PLACE,
    "Al-Tanf": EntityKind.PLACE,
    "Baghdad airport": EntityKind.PLACE,
}


def _entity_fires(name: str, aliases: tuple[str, ...], text: str) -> list[str]:
    """The hit texts of a watchlist on one entity, on `text` ([] when it stays silent)."""
    entity = EntityDef(name, ENTITY_KINDS.get(name, EntityKind.PERSON), aliases)
    matcher = compile_matcher([WatchlistDef("w", f'@"{name}"')], Vocabulary(entities=(entity,)))
    item = Item(id="1", feed="f", content=text)
    found = matcher.match(item)
    assert found == match_directly(matcher, item)
    return [hit.text for match in found for hit in match.hits]


BARZANI_ALIAS = ("رئيس حكومة الإقليم",)


Case = tuple[str, tuple[str, ...], str, str]  # entity name, its aliases, a text, the hit expected
ARABIC_FINDS: list[Case] = [
    # kunya and patronymic names, written with a space
    ("Abu Fadak al-Mohammedawi", (), "قال أبو فدك المحمداوي إن", "أبو فدك المحمداوي"),
    ("Abu Fadak al-Mohammedawi", (), "وصل أبوفدك المحمداوي", "أبوفدك المحمداوي"),
    ("Abu Mahdi al-Muhandis", (), "ذكرى اغتيال أبو مهدي المهندس", "أبو مهدي المهندس"),
    ("Muhammad bin Salman", (), "استقبل محمد بن سلمان الوفد", "محمد بن سلمان"),
    # short names: word for word, a one-word name beside a word that says what it is
    ("Khor Mor", (), "هجوم على حقل خور مور للغاز", "خور مور"),
    ("Al-Tanf", (), "قرب قاعدة التنف", "التنف"),
    ("Al-Tanf", (), "طائرة مسيرة استهدفت لقاعدة التنف", "التنف"),
    ("Nasr", (), "قال الشيخ نصر إن", "نصر"),
    # an alias adds spellings and never takes the automatic one away
    ("Masrour Barzani", BARZANI_ALIAS, "قال مسرور بارزاني إن", "مسرور بارزاني"),
    ("Masrour Barzani", BARZANI_ALIAS, "قال رئيس حكومة الإقليم إن", "رئيس حكومة الإقليم"),
    ("Esmail Qaani", ("قاآني",), "وصل إسماعيل قاآني", "إسماعيل قاآني"),
]
PERSIAN_FINDS: list[Case] = [
    ("Abu Fadak al-Mohammedawi", (), "ابو فدک المحمداوی گفت", "ابو فدک المحمداوی"),
    ("Abu Mahdi al-Muhandis", (), "سالگرد ترور ابومهدی المهندس", "ابومهدی المهندس"),
    ("Khor Mor", (), "حمله پهپادی به میدان گازی خور مور", "خور مور"),
    ("Al-Tanf", (), "حمله به پایگاه التنف", "التنف"),
    ("Nasr", (), "سردار نصر گفت", "نصر"),
    ("Masrour Barzani", BARZANI_ALIAS, "مسرور بارزانی گفت", "مسرور بارزانی"),
]
LATIN_FINDS: list[Case] = [
    # other romanisations: q/gh, e/i, aa/a, apostrophes, al-/el-/ul-
    ("Esmail Qaani", (), "Ismail Ghaani arrived in Baghdad", "Ismail Ghaani"),
    ("Esmail Qaani", (), "Esmaeil Qa'ani arrived", "Esmaeil Qa'ani"),
    ("Mustafa al-Kadhimi", (), "Prime Minister Mostafa el-Kazemi said", "Mostafa el-Kazemi"),
    ("Abu Mahdi al-Muhandis", (), "the killing of Abu Mehdi ul-Mohandes", "Abu Mehdi ul-Mohandes"),
    # Arabic-script names in Latin text
    ("أبو فدك المحمداوي", (), "Abu Fadak al-Mohammedawi said", "Abu Fadak al-Mohammedawi"),
    ("خور مور", (), "a drone hit the Khor Mor gas field", "Khor Mor"),
    ("التنف", (), "the Tanf base", "Tanf"),
]


@pytest.mark.parametrize(
    ("name", "aliases", "text", "hit"),
    [
        pytest.param(*case, id=f"{language}-{number}")
        for language, cases in [("ar", ARABIC_FINDS), ("fa", PERSIAN_FINDS), ("en", LATIN_FINDS)]
        for number, case in enumerate(cases)
    ],
)
def test_names_of_every_shape_are_found(name: str, aliases: tuple[str, ...], text: str, hit: str) -> None:
    assert _entity_fires(name, aliases, text)[:1] == [hit]


@pytest.mark.parametrize(
    ("name", "aliases", "text"),
    [
        # a kunya or a surname alone is not the name
        ("Abu Fadak al-Mohammedawi", (), "قال أبو مهدي إن"),
        ("Abu Fadak al-Mohammedawi", (), "عشيرة المحمداوي"),
        ("Masrour Barzani", BARZANI_ALIAS, "قال مسعود بارزاني إن"),  # another Barzani
        ("Masrour Barzani", BARZANI_ALIAS, "زار بارزاني بغداد"),
        # the ordinary word of a one-word name, bare or in a phrase that is not a name
        ("Nasr", (), "حقق الجيش نصر كبيرا"),
        ("Nasr", (), "أعلنوا نصر القائد"),  # a title after it is someone else's
        ("Nasr", (), "اقتحموا قاعدة النصر"),  # the victory base: النصر has an article, Nasr none
        ("Nasr", (), "نصر"),
        ("Al-Tanf", (), "اشتباكات في التنف"),  # no word says what it is: an alias is needed
        # a short key with other vowels
        ("Khor Mor", (), "هذه خير مرة"),
        ("Hadi al-Amiri", ("العامري",), "انفجار في حي العامرية غرب بغداد"),
        ("Hadi al-Amiri", ("العامري",), "هذا مرة أخرى"),
        # Persian
        ("Nasr", (), "این نصر بزرگ بود"),
        ("Abu Fadak al-Mohammedawi", (), "ابو مهدی گفت"),
        # Latin: other names, ordinary words, bare surnames
        ("Esmail Qaani", (), "Ismail Haniyeh arrived"),
        ("Esmail Qaani", (), "a small can of paint"),
        ("Esmail Qaani", (), "Qaani arrived"),
        ("Mustafa al-Kadhimi", (), "pilgrims in Kadhimiya"),
        ("Baghdad airport", (), "flights from Bagdad airport"),  # places keep their English name
    ],
)
def test_names_stay_silent_on_what_is_not_them(name: str, aliases: tuple[str, ...], text: str) -> None:
    assert _entity_fires(name, aliases, text) == []


PEOPLE = ["Esmail Qaani", "Masrour Barzani", "Abu Fadak al-Mohammedawi", "Nasr", "Khor Mor", "مسعود بارزاني"]
ALIASES = [
    "رئيس حكومة الإقليم",
    "قاآني",
    "بارزاني",
    "Barzani",
    "المحمداوي",
    "أبو فدك",
    "نصر",
    "Qa'ani",
    "PM",
    "خور مور",
    "Kurdistan Regional Government premier",
]
TEXTS = [
    "قال مسرور بارزاني إن رئيس حكومة الإقليم وصل",
    "وصل إسماعيل قاآني إلى بغداد. والتقى قاآني قادة الفصائل",
    "Esmaeil Qa'ani and Masrour Barzani met in Erbil",
    "قال أبو فدك المحمداوي إن الشيخ نصر وصل",
    "ابو فدک المحمداوی و مسرور بارزانی",
    "هجوم على حقل خور مور ونصر كبير",
    "Masoud Barzani met the PM",
]


@settings(max_examples=120, deadline=None)
@given(
    st.sampled_from(PEOPLE),
    st.lists(st.sampled_from(ALIASES), max_size=2, unique=True),
    st.sampled_from(ALIASES),
    st.sampled_from(TEXTS),
)
def test_adding_an_alias_never_removes_a_match(name: str, aliases: list[str], extra: str, text: str) -> None:
    before = _entity_fires(name, tuple(aliases), text)
    after = _entity_fires(name, (*aliases, extra), text)
    assert set(before) <= set(after)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abcdeghijkmnpqrstvwxyz")), min_size=1, max_size=8))
def test_words_skipped_by_their_first_letter_could_not_start_a_name(word: str) -> None:
    for index in INDEXES:
        if index.text_script == "L" and word not in _BREAKS:  # function words end names, never start one
            could = any(key in index.starts for key in latin_token_skeletons(word))
            assert bool(index.memo.starters_among({word}, index)) == could


# Letters weighted toward what a name's first word holds (articles, ambiguous Latin letters and
# digraphs, every letter of the Arabic block including those the skeleton keeps as themselves).
_PIECES = [
    *["ال", "وال", "بال", "لل", "ب", "ا", "ي", "و", "ع", "ه", "ة", "ى", "س", "م", "ع", "ل", "ن"],
    *[chr(code) for code in range(0x0620, 0x0700, 7)],
    *["al", "el", "ash", "ch", "g", "v", "x", "kh", "sh", "dj", "dh", "h", "a", "e", "i", "s", "m"],
    *["q", "n", "r", "t", "b", "l", "ll", "ss", "é", "😀", "3", "-", ".", "\n", " ", " ", " ", " "],
]


@st.composite
def _start_cases(draw: st.DrawFn) -> tuple[str, list[SkeletonIndex]]:
    """A text and an index per script whose starts are the skeletons of some of its words."""
    text = "".join(draw(st.lists(st.sampled_from(_PIECES), max_size=60)))
    chosen = draw(st.lists(st.booleans(), min_size=60, max_size=60))
    arabic = [w for w, keep in zip(_words(text, "[\u0620-\u06ff]+"), chosen, strict=False) if keep]
    latin = [w for w, keep in zip(_words(text, "[a-z]+"), chosen, strict=False) if keep]
    starts = {
        "A": {arabic_token_skeleton(w) for w in arabic} | {"B", "KS", "L"},
        "L": {k for w in latin for k in latin_token_skeletons(w)} | {"L", "KS", "J", "$"},
    }
    return text, [_index(script, frozenset(keys)) for script, keys in starts.items()]


def _index(script: str, starts: frozenset[str]) -> SkeletonIndex:
    return SkeletonIndex(script, starts=starts, initials=frozenset({k[:1] for k in starts} | {"*"}))


def _words(text: str, pattern: str) -> list[str]:
    import re

    return re.findall(pattern, text)


@settings(max_examples=400, deadline=None)
@given(_start_cases())
def test_the_c_finder_finds_the_starts_that_word_by_word_finds(case: tuple[str, list[SkeletonIndex]]) -> None:
    text, indexes = case
    for index in [*indexes, *INDEXES]:
        assert StartFinders([index]).find(text) == [starter_offsets_by_words(text, index)]
    # One finder per script for several indexes: the same starts as each index alone.
    every = [*indexes, *INDEXES, _index("L", frozenset({"KJ", "S", "BS"}))]
    assert StartFinders(every).find(text) == [starter_offsets_by_words(text, index) for index in every]


@pytest.mark.parametrize(
    "text",
    [
        "g" * 12 + "v" * 3 + " gv chg",  # past 1,024 readings: the C finder asks the fallback
        "س" * 300 + " " + "ب" * 257 + " بس",  # past its key buffer, likewise
        "al el ash x xx kh",  # articles have no skeleton; x is KS
    ],
)
def test_the_c_finder_agrees_on_words_it_hands_back(text: str) -> None:
    starts = frozenset({"KJ", "JKJ", "S", "B", "BS", "KS", "X", "L"})
    for index in (_index("A", starts), _index("L", starts)):
        assert StartFinders([index]).find(text) == [starter_offsets_by_words(text, index)]
    others = frozenset({"JKJ", "KS", "X"})  # a second set decided in the same pass
    indexes = [_index("A", starts), _index("L", starts), _index("L", others), _index("A", others)]
    assert StartFinders(indexes).find(text) == [starter_offsets_by_words(text, index) for index in indexes]


def test_the_c_finder_is_built_where_the_engine_is_compiled() -> None:
    from service.match import engine_build

    finder = name_start_finder(True, [frozenset()], frozenset(), [bool])
    assert (finder is not None) == (engine_build() == "compiled")

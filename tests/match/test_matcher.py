"""Matching in Arabic, Persian and English: clitics, suffixes, plurals, phrases, NEAR, NOT, names."""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import QuerySyntaxError
from service.match import compile_matcher
from service.match.matcher import match_directly
from service.models import EntityDef, EntityKind, Item, Match, Vocabulary, WatchlistDef

VOCABULARY = Vocabulary(
    concepts={
        "rocket": ("rocket", "missile", "katyusha", "صاروخ", "صواريخ", "كاتيوشا", "موشک"),
        "attack": ("attack", "هجوم", "قصف", "استهداف"),
        "base": ("base", "قاعدة"),
    },
    entities=(
        EntityDef("Hadi al-Amiri", EntityKind.PERSON, ("العامري",)),
        EntityDef("Mustafa al-Kadhimi", EntityKind.PERSON, ("الكاظمي",)),
        EntityDef("Sulaymaniyah", EntityKind.PLACE, ("السليمانية",)),
        EntityDef("Qassem Soleimani", EntityKind.PERSON, ("سليماني",)),
        EntityDef("Esmail Qaani", EntityKind.PERSON),
        EntityDef("Baghdad", EntityKind.PLACE, ("بغداد", "Baghdad")),
    ),
)


def matches(query: str, text: str, vocabulary: Vocabulary = VOCABULARY) -> tuple[Match, ...]:
    matcher = compile_matcher([WatchlistDef("w", query)], vocabulary)
    return matcher.match(Item(id="1", feed="f", content=text))


def fires(query: str, text: str) -> bool:
    return bool(matches(query, text))


@pytest.mark.parametrize(
    ("query", "text"),
    [
        # Arabic proclitics and suffixes
        ("بغداد", "وصل وفد إلى بغداد أمس"),
        ("بغداد", "وقع انفجار ببغداد صباحا"),
        ("بغداد", "رسالة لبغداد من طهران"),
        ("بغداد", "بين طهران وبغداد"),
        ("صاروخ", "هجوم بصاروخين على القاعدة"),
        ("صاروخ", "سقوط الصواريخ قرب المطار"),  # broken plural from the table
        ("هجوم", "تعرضت القاعدة لهجوم ليلي"),
        ("هجوم", "شنوا هجمات متتالية"),
        ("قاعدة", "استهدفت قاعدتين أمريكيتين"),  # ة written ت before a suffix
        ("قاعدة", "قرب القواعد الأمريكية"),
        ("طائرة", "أسقطت ثلاث طائرات مسيرة"),  # ات after a ة word
        ("ميليشيا", "اتهام المليشيات الموالية"),
        ("صاروخ", "صواريخهم سقطت"),
        # diacritics, tatweel, hamza and Persian letters
        ("مطار", "قرب مطَـارِ بغداد"),
        ("مسؤول", "قال مسئول أمني"),
        ("الكاظمي", "مصطفی کاظمی"),
        ("موشک", "موشک\u200cها به پایگاه اصابت کرد"),
        ("موشك", "حمله موشکها"),
        # English
        ("rocket", "Rockets hit the base"),
        ("rocket", "the rocket's trail"),
        ("militia", "Iran-backed militias said"),
        ("iran", "Iran-backed groups"),
        # phrases across clitics and punctuation
        ('"مطار بغداد"', "هجوم على «مطار بغداد» الدولي"),
        ('"مطار بغداد"', "قرب لمطار ببغداد"),
        ('"Baghdad airport"', "near Baghdad Airport's runway"),
        # NEAR, NOT, prefixes
        ("هجوم NEAR/3 قاعدة", "هجوم بصاروخين استهدف قاعدة فيكتوريا"),
        ("rocket NEAR/0 attack", "a rocket attack"),
        ("rocket -drill", "rockets fired at dawn"),
        ("صوار*", "سقطت الصواريخ"),
        ("milit*", "the militiamen left"),
        # entities, across scripts
        ("@Baghdad", "رسالة لبغداد من طهران"),
        ('@"Esmail Qaani"', "وصل إسماعيل قاآني إلى بغداد"),
        ('@"Esmail Qaani"', "سفر اسماعیل قاآنی به بغداد"),
        ('@"Mustafa al-Kadhimi"', "قال للكاظمي إن"),
        ('@"Hadi al-Amiri"', "زعيم بدر العامري"),
    ],
)
def test_the_query_fires(query: str, text: str) -> None:
    assert fires(query, text)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        # words that share letters but not meaning
        ('@"Hadi al-Amiri"', "انفجار في حي العامرية غرب بغداد"),  # a district, not the politician
        ('@"Mustafa al-Kadhimi"', "زوار مدينة الكاظمية"),
        ('@"Qassem Soleimani"', "محافظة السليمانية في إقليم كردستان"),
        ("مطار", "هطول أمطار غزيرة"),
        ("مال", "قال كمال إن"),
        ("زار", "أعلنت وزارة الدفاع"),
        ("بل", "أطلقت وابلاً من الصواريخ"),
        ("بل", "لوابلٍ من القذائف"),
        ("air", "flights left the airport"),
        ("rocket", "prices rocketed"),
        ("iran", "Iranian officials"),
        # single names never match across scripts, short keys never match
        ('@"Esmail Qaani"', "كان القانون واضحا"),
        ('@"Esmail Qaani"', "قاآني وصل"),  # the bare surname, without the full name first
        # phrases, NEAR, NOT
        ('"مطار بغداد"', "مطار. بغداد"),
        ("هجوم NEAR/1 قاعدة", "هجوم بصاروخين استهدف قاعدة"),
        ("rocket -drill", "a rocket drill"),
        ('("air strike" OR "drone strike") NEAR/5 base', "striking workers gathered at the base canteen"),
        ('("air strike" OR "drone strike") NEAR/5 base', "Workers strike near the base"),
        ("3", "a 3.5 magnitude quake"),
    ],
)
def test_the_query_stays_silent(query: str, text: str) -> None:
    assert not fires(query, text)


def test_a_strike_query_can_tell_an_air_strike_from_striking_workers() -> None:
    query = '("air strike" OR "drone strike" OR airstrike) NEAR/5 base'
    assert fires(query, "A drone strike hit the base at dawn")
    assert not fires(query, "Striking workers blocked the base gate")


def test_the_surname_counts_once_the_full_name_was_found() -> None:
    text = "وصل إسماعيل قاآني إلى بغداد. والتقى قاآني قادة الفصائل"
    (match,) = matches('@"Esmail Qaani"', text)
    assert [hit.text for hit in match.hits] == ["إسماعيل قاآني", "قاآني"]
    assert match.entities == ("Esmail Qaani",)


@pytest.mark.parametrize(
    ("text", "surface"),
    [
        ("هجوم بصاروخَين", "بصاروخَين"),
        ("قرب مطَـارِ بغداد", "مطَـارِ"),
        ("\u200fاستهدف\u200f صواريخُ الفصائل", "صواريخُ"),
        ("ROCKETS hit", "ROCKETS"),
    ],
)
def test_hits_show_the_surface_form_at_its_original_offsets(text: str, surface: str) -> None:
    (match,) = matches("صاروخ OR مطار OR rocket", text)
    (hit,) = match.hits
    assert (hit.text, hit.field, text[hit.start : hit.end]) == (surface, "content", surface)


def test_hits_are_ordered_by_field_then_position_and_name_the_atom() -> None:
    matcher = compile_matcher([WatchlistDef("w", '@rocket AND "مطار بغداد"')], VOCABULARY)
    item = Item(id="1", feed="f", title="صواريخ قرب مطار بغداد", content="سقط صاروخ")
    (match,) = matcher.match(item)
    assert [(h.field, h.term, h.text) for h in match.hits] == [
        ("title", "@rocket", "صواريخ"),
        ("title", '"مطار بغداد"', "مطار بغداد"),
        ("content", "@rocket", "صاروخ"),
    ]


def test_feed_globs_and_languages_select_the_items_a_watchlist_sees() -> None:
    watchlists = [
        WatchlistDef("iraq", "rocket", feeds=("iq-*",)),
        WatchlistDef("arabic", "rocket", languages=("ar",)),
    ]
    matcher = compile_matcher(watchlists, VOCABULARY)
    names = lambda **kw: [m.watchlist for m in matcher.match(Item(id="1", content="rocket", **kw))]  # noqa: E731
    assert names(feed="iq-news", language="en") == ["iraq"]
    assert names(feed="uk-news", language="ar-IQ") == ["arabic"]
    assert names(feed="uk-news", language=None) == ["arabic"]  # unknown language passes


def test_min_score_needs_enough_weight_of_distinct_terms() -> None:
    watchlist = WatchlistDef("w", "rocket^2 OR attack OR base", min_score=3)
    matcher = compile_matcher([watchlist], VOCABULARY)
    assert not matcher.match(Item(id="1", feed="f", content="rocket rocket"))
    (match,) = matcher.match(Item(id="2", feed="f", content="rocket attack"))
    assert match.score == 3


def test_references_must_name_exactly_one_concept_or_entity() -> None:
    ambiguous = Vocabulary(concepts={"x": ("a",)}, entities=(EntityDef("x"),))
    with pytest.raises(QuerySyntaxError, match="ambiguous") as caught:
        compile_matcher([WatchlistDef("w", "a OR @x")], ambiguous)
    assert caught.value.column == 6
    with pytest.raises(QuerySyntaxError, match="neither a concept nor an entity"):
        compile_matcher([WatchlistDef("w", "@nothing")], VOCABULARY)


def test_plurals_from_the_vocabulary_extend_the_table() -> None:
    vocabulary = Vocabulary(plurals={"درون": ("دوارين",)})
    assert fires("درون", "سقطت الدوارين") is False
    matcher = compile_matcher([WatchlistDef("w", "درون")], vocabulary)
    assert matcher.match(Item(id="1", feed="f", content="سقطت الدوارين"))


def test_a_matcher_with_many_watchlists_evaluates_only_those_whose_terms_occur() -> None:
    watchlists = [WatchlistDef(f"w{i}", f"word{i} AND other{i}") for i in range(2000)]
    matcher = compile_matcher(watchlists, VOCABULARY)
    assert len(matcher.watchlists) == 2000
    assert [m.watchlist for m in matcher.match(Item(id="1", feed="f", content="word7 other7 x"))] == ["w7"]


# ------------------------------------------------------------------------------------------------
# `Matcher.match` gives the same matches, hits and offsets as `match_directly`, its reference twin,
# whatever shortcut it takes: scanning through the chunk memo instead of one automaton pass per
# field with the per-hit checks, searching names only from the words that may start one, and
# skipping every atom none of whose starting words occurs (and that has no cross-script name).

SEED = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "seed-article.txt"


def random_items(rng: random.Random, pool: list[str], most_sentences: int) -> list[Item]:
    """Four items made of sentences from `pool`: a title, a summary or none, a content."""
    return [
        Item(
            id=str(n),
            feed="f",
            title=rng.choice(pool),
            summary=rng.choice(["", rng.choice(pool)]),
            content=" ".join(rng.choice(pool) for _ in range(rng.randint(1, most_sentences))),
        )
        for n in range(4)
    ]


def seed_sentences() -> list[str]:
    text = SEED.read_text(encoding="utf-8")
    return [s.strip() for s in text.replace("\n", ".").split(".") if s.strip()]


MatchItem = Callable[[Item], tuple[Match, ...]]


def assert_same_matches(fast: MatchItem, reference: MatchItem, items: list[Item]) -> None:
    """`fast` gives what `reference` gives on every item, cold and then warm."""
    wanted = [reference(item) for item in items]
    assert [fast(item) for item in items] == wanted
    assert [fast(item) for item in items] == wanted  # warm: every chunk remembered


# One vocabulary for both comparisons; each has its own watchlists and extra sentences.
TWIN_VOCABULARY = Vocabulary(
    concepts={"rocket": ("rocket", "missile", "صاروخ", "صواريخ", "كاتيوشا"), "attack": ("attack", "هجوم")},
    entities=(
        EntityDef("Baghdad International Airport", EntityKind.PLACE, ("مطار بغداد الدولي", "BGW")),
        EntityDef("Esmail Qaani", EntityKind.PERSON),
        EntityDef("Erbil", EntityKind.PLACE, ("أربيل", "اربيل")),
    ),
    plurals={"درون": ("درونات",), "f16": ("f-16s",)},
)
MEMO_WATCHLISTS = [
    WatchlistDef("airport", '@rocket AND @"Baghdad International Airport"'),
    WatchlistDef("qaani", '@"Esmail Qaani"'),
    WatchlistDef("near", "@attack NEAR/5 (@Erbil OR بغداد)"),
    WatchlistDef("words", 'قاعدة OR "مطار بغداد" OR صوار* OR militia OR 3 OR درون OR f16', min_score=1),
    WatchlistDef("not", "rocket -drill"),
]
MEMO_EXTRA = [
    "rockets hit BGW airport",
    "a rocket drill near Erbil attack",
    "سقطت الدرونات على القاعدة",
    "3.5 and 3 and 1,000",
    "f-16s and f16",
    "هجوم على أربيل واربيل",
    "مطَـارِ بغداد الدولي",
]

SKIP_WATCHLISTS = [
    WatchlistDef("airport", '@rocket AND @"Baghdad International Airport"'),
    WatchlistDef("qaani", '@"Esmail Qaani" OR (قاآني AND NOT drill)'),
    WatchlistDef("near", "@attack NEAR/5 (@Erbil OR بغداد)"),
    WatchlistDef("words", 'قاعدة OR "مطار بغداد" OR صوار* OR militia OR 3 OR (rocket -drill)', min_score=2),
    WatchlistDef("phrases", '"قائد فيلق" OR ("rocket drill" AND NOT BGW) OR إسماعيل^2'),
]
SKIP_EXTRA = [
    "rockets hit BGW airport",
    "a rocket drill near Erbil attack",
    "3.5 and 3 and 1,000",
    "هجوم على أربيل واربيل",
    "مطَـارِ بغداد الدولي",
    "Esmail Qaani visited",
]


@pytest.mark.parametrize(
    ("watchlists", "extra", "most_sentences"),
    [
        pytest.param(MEMO_WATCHLISTS, MEMO_EXTRA, 12, id="scan-and-names"),
        pytest.param(SKIP_WATCHLISTS, SKIP_EXTRA, 10, id="atom-skips"),
    ],
)
@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False))
def test_the_matcher_gives_what_matching_without_shortcuts_gives(
    watchlists: list[WatchlistDef], extra: list[str], most_sentences: int, rng: random.Random
) -> None:
    items = random_items(rng, seed_sentences() + extra, most_sentences)
    fast = compile_matcher(watchlists, TWIN_VOCABULARY).match
    reference = partial(match_directly, compile_matcher(watchlists, TWIN_VOCABULARY))
    assert_same_matches(fast, reference, items)


KURDISH = Vocabulary(
    concepts={
        "drone": ("درۆن", "هێرش", "فڕۆکەخانە", "مووشەک", "êrîş", "balafirgeh", "kuştin"),
        "spirit": ("ڕۆح", "شەو"),
    },
    entities=(EntityDef("Erbil", EntityKind.PLACE, ("هەولێر", "Hewlêr")),),
)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        # Sorani: indefinite, definite, plural, with ezafe, postposition, after a vowel
        ("@drone", "هێرشێک کرایە سەر بنکەیەکی سەربازی"),
        ("@drone", "درۆنەکە لە نزیک گوندەکە کەوتە خوارەوە"),
        ("@drone", "درۆنەکان گەیشتنە سنوور"),
        ("@drone", "درۆنەکانی تورکیا بۆردومانیان کرد"),
        ("@drone", "سێ پێشمەرگە لە هێرشێکدا بریندار بوون"),
        ("@drone", "فڕۆکەخانەکان بۆ دوو ڕۆژ داخران"),
        ("@drone", "فڕۆکەخانەکە داخرا"),
        ("@drone", "مووشەکێک بەر بنکەکە کەوت"),
        ("@drone", "هێرشی درۆن"),  # the bare form and the Arabic-rule suffixes, as before
        ('"هێرشی درۆن"', "هێرشی درۆنەکان بۆ سەر کێڵگەکە"),  # the last word of a phrase too
        # Kurmanji
        ("@drone", "Êrîşa li ser baregeha leşkerî"),
        ("@drone", "êrîşek hat kirin"),
        ("@drone", "êrîşên dijwar"),
        ("@drone", "kuştina du kesan"),
        ("@Erbil", "لە هەولێر"),
    ],
)
def test_a_kurdish_term_matches_its_suffixed_forms(query: str, text: str) -> None:
    assert matches(query, text, KURDISH)
    matcher = compile_matcher([WatchlistDef("w", query)], KURDISH)
    assert match_directly(matcher, Item(id="1", feed="f", content=text)) == matcher.match(
        Item(id="1", feed="f", content=text)
    )


@pytest.mark.parametrize(
    ("query", "text"),
    [
        # the same letters once normalised, in Arabic and Persian text: no Sorani suffix there
        ("@spirit", "التقى الرئيس روحاني وفدا عراقيا"),  # ڕۆح + انی = Rouhani
        ("@spirit", "دیدار روحانی با رئیس‌جمهور عراق"),
        ("@spirit", "روحانیون در قم"),
        ("@spirit", "فیلم شهوانی"),  # شەو "night" + انی
        ("@drone", "هيرشيك"),  # a Sorani form written without Sorani letters
        ("@drone", "مسیر درونکه"),
        # names never take a suffix
        ("@Erbil", "لە هەولێرەکە"),
        ("@Erbil", "Hewlêra"),
        # suffixes only from the closed list, and only for Kurdish terms
        ("@drone", "درۆنبازەکان"),
        ("@drone", "êrîşkar"),
        ("balafirgeh", "balafirgeha Hewlêrê"),  # plain ASCII: not recognisably Kurmanji
        ("cub", "Cuban officials"),  # English never takes Kurmanji suffixes
        ("saldırı", "saldırıan"),
    ],
)
def test_kurdish_suffixes_add_no_match_elsewhere(query: str, text: str) -> None:
    assert not matches(query, text, KURDISH)

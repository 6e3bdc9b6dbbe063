"""Why a watchlist stayed silent: each clause kind in the user's terms, and the verdicts agree with matching."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.match import compile_matcher, explain_item
from service.match.explain import Explanation
from service.models import EntityDef, EntityKind, Item, Vocabulary, WatchlistDef
from tests.match.test_matcher import seed_sentences

VOCABULARY = Vocabulary(
    concepts={
        "rocket": ("rocket", "missile", "صاروخ", "صواريخ", "كاتيوشا", "موشک"),
        "attack": ("attack", "هجوم", "قصف", "استهداف", "حمله"),
    },
    entities=(
        EntityDef("Baghdad International Airport", EntityKind.PLACE, ("مطار بغداد الدولي", "BGW")),
        EntityDef("Erbil", EntityKind.PLACE, ("أربيل", "اربيل")),
        EntityDef("Esmail Qaani", EntityKind.PERSON),
    ),
)


def explain(watchlist: WatchlistDef, item: Item) -> Explanation:
    (explanation,) = explain_item(compile_matcher([watchlist], VOCABULARY), item)
    return explanation


def item(content: str = "", title: str = "", feed: str = "f", language: str | None = None) -> Item:
    return Item(id="1", feed=feed, title=title, content=content, language=language)


# (watchlist, item, the clauses that held, the clause that failed)
CASES = [
    pytest.param(
        WatchlistDef("w", "rocket AND airport"),
        item("a rocket fell"),
        ['rocket found ("rocket" in content)'],
        "airport not found",
        id="and-parts-one-by-one",
    ),
    pytest.param(
        WatchlistDef("w", "(@rocket AND @Erbil) OR drone"),
        item("سقطت صواريخ على بغداد"),
        [],
        'OR: [AND: @rocket found ("صواريخ" in content), @Erbil not found], drone not found',
        id="nested-and-in-arabic",
    ),
    pytest.param(
        WatchlistDef("w", "rocket -drill"),
        item("rockets fired", title="Annual drills"),
        ['rocket found ("rockets" in content)'],
        'NOT drill: found "drills" in title',
        id="not-says-where",
    ),
    pytest.param(
        WatchlistDef("w", "rocket NEAR/2 airport"),
        item("rocket one two three four airport"),
        [],
        'NEAR/2: rocket found at word 1 ("rocket"), airport at word 6 ("airport") '
        "(4 words between, more than 2, in content)",
        id="near-too-far",
    ),
    pytest.param(
        WatchlistDef("w", "@attack NEAR/3 @Erbil"),
        item("هجوم على بغداد"),
        [],
        'NEAR/3: @attack found ("هجوم" in content), @Erbil not found',
        id="near-one-side-absent",
    ),
    pytest.param(
        WatchlistDef("w", "(@rocket OR @attack) NEAR/10 @Erbil"),
        item("افتتاح سوق جديد في أربيل"),
        [],
        "NEAR/10: (@rocket OR @attack) not found",
        id="near-group-absent",
    ),
    pytest.param(
        WatchlistDef("w", "rocket NEAR/5 airport"),
        item("near the airport", title="Rocket"),
        [],
        "NEAR/5: rocket and airport are never in the same field",
        id="near-different-fields",
    ),
    pytest.param(
        WatchlistDef("w", '"Baghdad airport" OR BGW'),
        item("Baghdad and its airport"),
        [],
        'OR: "Baghdad airport" not found, BGW not found',
        id="phrase-words-apart",
    ),
    pytest.param(
        WatchlistDef("w", "صوار* AND NOT قاعدة"),
        item("إطلاق الصواريخ على القاعدة"),
        ['صوار* found ("الصواريخ" in content)'],
        'NOT قاعدة: found "القاعدة" in content',
        id="prefix-and-arabic-not",
    ),
    pytest.param(
        WatchlistDef("w", "@rocket", languages=("ar",)),
        item("موشک به پایگاه اصابت کرد", language="fa"),
        [],
        'languages: item is "fa", watchlist wants ar',
        id="languages",
    ),
    pytest.param(
        WatchlistDef("w", "@rocket", feeds=("news-*",)),
        item("rocket", feed="x"),
        [],
        'feeds: item\'s feed "x" is not in the watchlist\'s feeds ("news-*")',
        id="feeds",
    ),
    pytest.param(
        WatchlistDef("w", "rocket^1.5 OR airport^2 OR drone", min_score=4),
        item("a rocket and a drone"),
        ['OR: rocket found ("rocket" in content)'],
        "min_score: 2.5 of 4 (rocket 1.5, drone 1)",
        id="min-score",
    ),
    pytest.param(
        WatchlistDef("w", '@"Esmail Qaani" AND visit', feeds=("news-*",), languages=("ar", "fa")),
        item("وصل إسماعيل قاآني إلى بغداد", feed="news-ar"),
        [
            'feeds: item\'s feed "news-ar" matches "news-*"',
            "languages: item's language is unknown, so it may be ar, fa",
            '@"Esmail Qaani" found ("إسماعيل قاآني" in content)',
        ],
        "visit not found",
        id="held-filters-and-a-name-in-another-script",
    ),
]


@pytest.mark.parametrize(("watchlist", "subject", "held", "failed"), CASES)
def test_a_silent_watchlist_says_what_held_and_what_failed_first(
    watchlist: WatchlistDef, subject: Item, held: list[str], failed: str
) -> None:
    explanation = explain(watchlist, subject)
    assert not explanation.fired
    assert not compile_matcher([watchlist], VOCABULARY).match(subject)
    assert [c.text for c in explanation.clauses if c.held] == held
    assert [c.text for c in explanation.clauses if not c.held] == [failed]
    assert not explanation.clauses[-1].held


@pytest.mark.parametrize(
    ("watchlist", "subject", "held"),
    [
        (WatchlistDef("w", "rocket NEAR/2 airport"), item("rocket hit the airport"), 1),
        (WatchlistDef("w", "rocket^3", min_score=2), item("rocket"), 2),
        (WatchlistDef("w", "@rocket -drill", languages=("fa",)), item("موشک", language="fa"), 3),
    ],
)
def test_a_watchlist_that_fires_holds_every_clause(watchlist: WatchlistDef, subject: Item, held: int) -> None:
    explanation = explain(watchlist, subject)
    assert explanation.fired
    assert len(explanation.clauses) == held and all(c.held for c in explanation.clauses)


def test_near_within_reach_says_how_close() -> None:
    explanation = explain(WatchlistDef("w", "rocket NEAR/2 airport"), item("rocket hit the airport"))
    assert explanation.clauses[0].text == (
        'NEAR/2: rocket found at word 1 ("rocket"), airport at word 4 ("airport") '
        "(2 words between, within 2, in content)"
    )


# ------------------------------------------------------------------------------------------------
# An explanation says "fired" exactly when `Matcher.match` fires, over queries of every clause kind
# and items in Arabic, Persian and English from any feed, in any language or none.

WATCHLISTS = [
    WatchlistDef("airport", '@rocket AND @"Baghdad International Airport"'),
    WatchlistDef("near", "(@rocket OR @attack) NEAR/10 (@Erbil OR بغداد)", feeds=("news-*", "f")),
    WatchlistDef("not", "@rocket AND NOT (drill OR تمرين)", languages=("ar", "en")),
    WatchlistDef("phrases", '"مطار بغداد" OR ("قائد فيلق" AND NOT BGW) OR "Baghdad airport"'),
    WatchlistDef("prefixes", "صوار* OR milit* OR موشک*", languages=("fa",)),
    WatchlistDef("scored", "@rocket^2 OR @attack^1.5 OR قاآني OR militia^0.5", min_score=3),
    WatchlistDef("names", '@"Esmail Qaani" NEAR/3 (بغداد OR Baghdad) -"rocket drill"'),
    WatchlistDef(
        "deep", "(rocket OR (هجوم AND قاعدة)) NEAR/4 (airport OR مطار) AND NOT (drill NEAR/1 rocket)"
    ),
]
EXTRA = [
    "rockets hit BGW airport",
    "a rocket drill near Erbil attack",
    "موشک\u200cها به پایگاه اصابت کرد",
    "حمله موشکی به اربیل",
    "هجوم على أربيل واربيل",
    "Esmail Qaani visited Baghdad",
    "militias held a drill near the airport",
]
LANGUAGES = [None, "ar", "fa", "en"]
FEEDS = ["f", "news-ar", "other"]


def random_items(rng: random.Random, pool: list[str]) -> list[Item]:
    return [
        Item(
            id=str(n),
            feed=rng.choice(FEEDS),
            title=rng.choice(pool),
            summary=rng.choice(["", rng.choice(pool)]),
            content=" ".join(rng.choice(pool) for _ in range(rng.randint(1, 8))),
            language=rng.choice(LANGUAGES),
        )
        for n in range(4)
    ]


Verdicts = Callable[[Item], list[str]]


def assert_same_verdicts(first: Verdicts, second: Verdicts, items: list[Item]) -> None:
    assert [first(i) for i in items] == [second(i) for i in items]


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False))
def test_an_explanation_fires_exactly_when_the_matcher_does(rng: random.Random) -> None:
    matcher = compile_matcher(WATCHLISTS, VOCABULARY)
    items = random_items(rng, seed_sentences() + EXTRA)

    def matched(subject: Item) -> list[str]:
        return [m.watchlist for m in matcher.match(subject)]

    def explained(subject: Item) -> list[str]:
        return [e.watchlist for e in explain_item(matcher, subject) if e.fired]

    assert_same_verdicts(matched, explained, items)


@settings(max_examples=30, deadline=None)
@given(st.randoms(use_true_random=False))
def test_an_explanation_stops_at_its_first_failed_clause(rng: random.Random) -> None:
    matcher = compile_matcher(WATCHLISTS, VOCABULARY)
    for subject in random_items(rng, seed_sentences() + EXTRA):
        for explanation in explain_item(matcher, subject):
            verdicts = [c.held for c in explanation.clauses]
            assert all(verdicts[:-1])
            assert verdicts[-1] is explanation.fired

"""The article this project exists for (tests/fixtures/seed-article.txt): what must fire, what must not."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.match import compile_matcher
from service.models import EntityDef, EntityKind, Item, Vocabulary, WatchlistDef

SEED = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "seed-article.txt"

VOCABULARY = Vocabulary(
    concepts={
        "rocket": ("rocket", "missile", "katyusha", "صاروخ", "صواريخ", "كاتيوشا"),
        "attack": ("attack", "strike", "shelling", "هجوم", "قصف", "صواريخ", "استهداف"),
    },
    entities=(
        EntityDef(
            "Baghdad International Airport",
            EntityKind.PLACE,
            ("Baghdad airport", "BGW", "ORBI", "مطار بغداد الدولي", "مطار بغداد"),
        ),
        EntityDef("Esmail Qaani", EntityKind.PERSON),
        EntityDef("Erbil", EntityKind.PLACE, ("أربيل", "اربيل", "Erbil", "Arbil")),
    ),
)
WATCHLISTS = [
    WatchlistDef("baghdad-airport-attacks", '@rocket AND @"Baghdad International Airport"'),
    WatchlistDef("qaani", '@"Esmail Qaani"'),
    WatchlistDef("erbil-attacks", "@attack NEAR/10 @Erbil"),
]


@pytest.fixture(scope="module")
def seed() -> str:
    return SEED.read_text(encoding="utf-8")


def run(text: str) -> dict[str, list[str]]:
    matcher = compile_matcher(WATCHLISTS, VOCABULARY)
    item = Item(id="seed", feed="shafaq-ar", title=text.splitlines()[2], content=text, language="ar")
    return {m.watchlist: [hit.text for hit in m.hits] for m in matcher.match(item)}


def test_the_airport_watchlist_fires_once_and_shows_what_matched(seed: str) -> None:
    hits = run(seed)["baghdad-airport-attacks"]
    assert {"صواريخ", "بصاروخين", "كاتيوشا", "مطار بغداد الدولي"} <= set(hits)
    assert "وابلاً" not in hits


def test_an_entity_named_only_in_latin_finds_its_arabic_spelling(seed: str) -> None:
    hits = run(seed)["qaani"]
    assert "إسماعيل قاآني" in hits
    assert hits.count("قاآني") >= 5  # the surname alone, once the full name was found


def test_the_erbil_watchlist_stays_silent(seed: str) -> None:
    assert "erbil-attacks" not in run(seed)


def test_only_the_expected_watchlists_fire(seed: str) -> None:
    assert sorted(run(seed)) == ["baghdad-airport-attacks", "qaani"]


def test_a_persian_spelled_and_vocalised_copy_fires_the_same_way(seed: str) -> None:
    copy = seed.replace("مطار", "مطَـارِ").replace("صواريخ", "صواريخُ").replace("ي", "ی").replace("ك", "ک")
    fired = run(copy)
    assert "مطَـارِ بغداد الدولی" in fired["baghdad-airport-attacks"]
    assert "صواریخُ" in fired["baghdad-airport-attacks"]
    assert "erbil-attacks" not in fired


def test_hits_point_into_the_item_text(seed: str) -> None:
    matcher = compile_matcher(WATCHLISTS, VOCABULARY)
    item = Item(id="seed", feed="f", content=seed)
    for match in matcher.match(item):
        for hit in match.hits:
            assert seed[hit.start : hit.end] == hit.text

"""Concepts reach the lexicon's other languages: expansion, `expand = false`, @std.NAME, and the
precision of the example config's watchlists on the fixture articles, traps included."""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service import lexicon
from service.errors import ConfigError
from service.match import Matcher, compile_matcher
from service.models import Item
from service.settings import Config, load_config
from service.text.normalise import normalise

REPO = Path(__file__).resolve().parents[2]
ARTICLES = tomllib.loads((Path(__file__).parent / "articles.toml").read_text(encoding="utf-8"))["article"]
PERSIAN_ROCKETS = "حمله موشکی به پایگاه آمریکا؛ دو موشک در نزدیکی فرودگاه فرود آمد"

CONFIG = """
[concepts]
rocket = ["rocket", "صاروخ"]
literal = {{ terms = ["rocket", "صاروخ"], expand = false }}

[[watchlists]]
name = "w"
query = '{query}'
"""


def item(text: str, ident: str = "t", language: str | None = None) -> Item:
    return Item(
        id=ident, feed="t", title=text, url=f"https://example.org/{ident}", published=None, language=language
    )


def fired(matcher: Matcher, article: dict[str, str]) -> set[str]:
    found = matcher.match(item(f"{article['title']}\n{article['text']}", article["id"], article["language"]))
    return {m.watchlist for m in found}


def literal(config: Config) -> Matcher:
    """The config's matcher with every concept kept to its own terms, as before expansion."""
    vocabulary = config.vocabulary()
    own = {name: tuple(concept.terms) for name, concept in config.concepts.items()}
    vocabulary = dataclasses.replace(vocabulary, concepts={**vocabulary.concepts, **own})
    return compile_matcher(config.watchlist_defs(), vocabulary)


@pytest.fixture
def config_with(make_config: Callable[..., Path]) -> Callable[[str], Config]:
    return lambda query: load_config(make_config(CONFIG.format(query=query)), {})


@pytest.fixture(scope="module")
def example() -> Config:
    return load_config(REPO / "config.example.toml", {})


def test_a_concept_in_english_and_arabic_finds_the_persian_report(
    config_with: Callable[[str], Config],
) -> None:
    config = config_with("@rocket")
    matcher = compile_matcher(config.watchlist_defs(), config.vocabulary())
    assert [m.watchlist for m in matcher.match(item(PERSIAN_ROCKETS))] == ["w"]
    assert [e.reference for e in config.expansions("rocket")] == ["std.rocket"]


def test_expand_false_keeps_a_concept_literal(config_with: Callable[[str], Config]) -> None:
    config = config_with("@literal")
    matcher = compile_matcher(config.watchlist_defs(), config.vocabulary())
    assert matcher.match(item(PERSIAN_ROCKETS)) == ()
    assert [m.watchlist for m in matcher.match(item("صاروخ على المطار"))] == ["w"]
    assert config.expansions("literal") == ()
    assert config.concept_terms("literal") == ("rocket", "صاروخ")


ROCKETS_IN_EVERY_LANGUAGE = [
    ("ar", "سقطت صواريخ كاتيوشا على المنطقة"),
    ("fa", "شلیک موشک به سمت منطقه"),
    ("ckb", "موشەک کەوتە ناوچەکە"),
    ("kmr", "roketan li herêmê ketin"),
    ("tr", "bölgeye roketler düştü"),
    ("he", "רקטות נורו לעבר האזור"),
    ("en", "rockets fell on the area"),
]


@pytest.mark.parametrize(("language", "text"), ROCKETS_IN_EVERY_LANGUAGE)
def test_std_name_reaches_every_language_of_the_entry(
    config_with: Callable[[str], Config], language: str, text: str
) -> None:
    config = config_with("@std.rocket")
    matcher = compile_matcher(config.watchlist_defs(), config.vocabulary())
    assert [m.watchlist for m in matcher.match(item(text, language=language))] == ["w"], language


def test_check_accepts_a_lexicon_entry_and_refuses_an_unknown_one(
    config_with: Callable[[str], Config],
) -> None:
    assert config_with("@std.rocket AND @STD.drone").watchlists[0].query
    with pytest.raises(ConfigError) as info:
        config_with("@rocket AND @std.nosuch")
    message = str(info.value)
    assert "watchlists[0].query" in message and "@std.nosuch" in message
    assert "newsalert lexicon" in message


CONCEPT_ERRORS = [
    ('rocket = { terms = ["rocket"], expnd = false }', "concepts.rocket.expnd: unknown key"),
    ("rocket = { expand = false }", "concepts.rocket.terms: missing required key"),
    ('rocket = "rocket"', "concepts.rocket: a concept is a list of terms, or a table"),
    ('rocket = { terms = ["rocket"], expand = "no" }', "concepts.rocket.expand"),
    ('"std.rocket" = ["rocket"]', "concepts.std.rocket: names starting with 'std.'"),
]


@pytest.mark.parametrize(("line", "expected"), CONCEPT_ERRORS)
def test_a_bad_concept_is_refused_with_its_key_path(
    make_config: Callable[..., Path], line: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(make_config(f"[concepts]\n{line}\n"), {})
    assert expected in str(info.value)


def test_the_list_and_table_forms_mean_the_same(make_config: Callable[..., Path]) -> None:
    body = '[concepts]\na = ["drone", "مسيرة"]\nb = { terms = ["drone", "مسيرة"] }\n'
    config = load_config(make_config(body), {})
    assert config.concept_terms("a") == config.concept_terms("b")
    assert len(config.concept_terms("a")) > 2


@pytest.mark.parametrize("article", ARTICLES, ids=lambda a: a["id"])
def test_the_example_watchlists_fire_as_intended_on_each_article(
    example: Config, article: dict[str, str]
) -> None:
    matcher = compile_matcher(example.watchlist_defs(), example.vocabulary())
    assert fired(matcher, article) == set(article.get("alerts", []))


def test_expansion_adds_no_false_alarm_and_only_adds_matches(example: Config) -> None:
    expanded = compile_matcher(example.watchlist_defs(), example.vocabulary())
    before = literal(example)
    for article in ARTICLES:
        with_lexicon, without = fired(expanded, article), fired(before, article)
        assert without <= with_lexicon, article["id"]
        if article.get("trap"):
            assert with_lexicon == set(), article["id"]


def test_the_cross_language_alerts_come_from_expansion(example: Config) -> None:
    """The Persian, Sorani and Turkish reports reach these watchlists only through the lexicon."""
    expanded, before = compile_matcher(example.watchlist_defs(), example.vocabulary()), literal(example)
    gained = {a["id"]: fired(expanded, a) - fired(before, a) for a in ARTICLES}
    assert "baghdad-airport-attacks" in gained["fa-rocket-baghdad-airport"]
    assert "erbil-attacks" in gained["ckb-rocket-erbil"]
    assert "erbil-attacks" in gained["tr-drone-erbil-airport"]


TERMS = [term for entry in lexicon.entries().values() for term in entry.all_terms()]


@given(st.lists(st.sampled_from(TERMS), min_size=1, max_size=6), st.lists(st.text(max_size=8), max_size=3))
def test_expansion_keeps_the_own_terms_first_and_reaches_only_entries_sharing_a_term(
    chosen: list[str], other: list[str]
) -> None:
    own = [*chosen, *other]
    terms, reached = lexicon.expand(own)
    firsts = list(dict.fromkeys(normalise(t) for t in own))
    assert [normalise(t) for t in terms[: len(firsts)]] == firsts
    keys = {lexicon.term_key(t) for t in own}
    assert all(keys & {lexicon.term_key(t) for t in entry.all_terms()} for entry in reached)
    assert {lexicon.term_key(t) for e in reached for t in e.all_terms()} <= {
        lexicon.term_key(t) for t in terms
    }

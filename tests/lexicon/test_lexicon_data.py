"""The lexicon file itself: complete in every language, one sense per entry, one entry per term."""

from __future__ import annotations

import tomllib
from collections import defaultdict
from importlib.resources import files

import pytest

from service import lexicon
from service.match import Matcher, compile_matcher
from service.models import Item, Vocabulary, WatchlistDef
from service.text.normalise import normalise

ENTRIES = lexicon.entries()

# The domain the issue names; the file may hold more.
REQUIRED = [
    "attack",
    "rocket",
    "missile",
    "drone",
    "airstrike",
    "shelling",
    "explosion",
    "ied",
    "suicide-bombing",
    "assassination",
    "kidnapping",
    "hostage",
    "base",
    "airport",
    "embassy",
    "convoy",
    "ship",
    "tanker",
    "port",
    "oil-field",
    "refinery",
    "pipeline",
    "protest",
    "clashes",
    "curfew",
    "militia",
    "killed",
    "wounded",
    "arrested",
    "ceasefire",
    "election",
]

# Words that also mean something harmless: an entry may hold them only inside a phrase.
NEVER_BARE = {
    "strike": "a labour strike",
    "strikes": "a labour strike",
    "base": "a database, a party's base",
    "قاعدة": "قاعدة بيانات (a database), a rule",
    "قواعد": "rules",
    "مسيرة": "a march",
    "حمله": "the Arabic حملة, a campaign",
    "حملات": "the Arabic حملات, campaigns",
    "ضربة": "a blow, a penalty kick",
    "پایگاه": "پایگاه داده (a database), a website",
    "بنکە": "بنکەی زانیاری (a database), a centre",
    "בסיס": "בסיס נתונים (a database)",
    "שביתה": "a labour strike",
    "grev": "a labour strike",
    "iha": "the news agency İHA",
    "هێرش": "a team's attack on the sports pages",
    "êrîş": "a team's attack on the sports pages",
    "مین": "the colloquial Arabic مين, who",
    "şer": "ser, on",
    "gule": "the Turkish güle",
    "dîl": "dil, heart or language",
}


def test_the_lexicon_has_the_domain_and_at_least_forty_entries() -> None:
    assert len(ENTRIES) >= 40
    assert set(REQUIRED) <= set(ENTRIES)


@pytest.mark.parametrize("name", list(ENTRIES))
def test_every_entry_has_a_description_and_terms_in_all_seven_languages(name: str) -> None:
    entry = ENTRIES[name]
    assert entry.description.strip()
    assert [code for code in lexicon.LANGUAGES if not entry.terms[code]] == []


def test_an_entry_holds_only_a_description_and_the_seven_languages() -> None:
    raw = tomllib.loads(files("service.lexicon").joinpath("lexicon.toml").read_text(encoding="utf-8"))
    allowed = {"description", *lexicon.LANGUAGES}
    assert {name: set(table) - allowed for name, table in raw.items() if set(table) - allowed} == {}


def test_no_term_belongs_to_two_entries() -> None:
    """A shared term would let a concept reach an unrelated sense through it: none is allowed."""
    holders: dict[str, set[str]] = defaultdict(set)
    for entry in ENTRIES.values():
        for term in entry.all_terms():
            holders[lexicon.term_key(term)].add(entry.name)
    assert {key: names for key, names in holders.items() if len(names) > 1} == {}


def test_ambiguous_words_appear_only_inside_phrases() -> None:
    bare = {normalise(word): why for word, why in NEVER_BARE.items()}
    found = [
        (entry.name, term, bare[normalise(term)])
        for entry in ENTRIES.values()
        for term in entry.all_terms()
        if normalise(term).rstrip("*") in bare
    ]
    assert found == []


def test_every_term_finds_itself_in_a_sentence() -> None:
    """Each term, written as it stands in the file (a prefix term with an ending), is found by its
    entry's @std.NAME: no term is lost to normalisation or tokenising."""
    names = list(ENTRIES)
    vocabulary = Vocabulary(concepts={ENTRIES[n].reference: ENTRIES[n].all_terms() for n in names})
    matcher = compile_matcher([WatchlistDef(n, f"@std.{n}") for n in names], vocabulary)
    missed = [
        (entry.name, term)
        for entry in ENTRIES.values()
        for term in entry.all_terms()
        if entry.name not in _fired(matcher, term.removesuffix("*") + ("ler" if term.endswith("*") else ""))
    ]
    assert missed == []


def _fired(matcher: Matcher, words: str) -> set[str]:
    item = Item(id="t", feed="t", title=f"... {words} ...", url="https://example.org/t", published=None)
    return {m.watchlist for m in matcher.match(item)}


def test_find_takes_the_name_with_or_without_the_prefix_in_any_case() -> None:
    assert lexicon.find("rocket") is lexicon.find("std.rocket") is lexicon.find("STD.Rocket")
    assert lexicon.find("nosuch") is None


# Letters each script's entries never use: Persian and Sorani write ی ک (Sorani ە), Arabic ي ك ة ى.
FOREIGN_LETTERS = {"ar": "یکە", "fa": "يكةى", "ckb": "يكةى"}


def test_each_arabic_script_language_is_written_in_its_own_letters() -> None:
    found = [
        (entry.name, code, term)
        for entry in ENTRIES.values()
        for code, letters in FOREIGN_LETTERS.items()
        for term in entry.terms[code]
        if any(letter in term for letter in letters)
    ]
    assert found == []

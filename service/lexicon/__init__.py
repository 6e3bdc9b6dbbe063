"""The built-in multilingual lexicon: curated term lists per concept, shipped as package data.

Each entry holds the terms of one sense in seven languages. A query reaches an entry as
`@std.NAME`; a user concept that shares a term with an entry reaches the entry's other
languages too (unless it sets `expand = false`). The data is `lexicon.toml` beside this file,
read once on first use.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from service.text.clitics import strip_article
from service.text.normalise import normalise
from service.text.plurals import english_plurals

PREFIX = "std."
LANGUAGES = ("ar", "fa", "ckb", "kmr", "tr", "he", "en")
LANGUAGE_NAMES = {
    "ar": "Arabic",
    "fa": "Persian",
    "ckb": "Sorani",
    "kmr": "Kurmanji",
    "tr": "Turkish",
    "he": "Hebrew",
    "en": "English",
}


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    description: str
    terms: Mapping[str, tuple[str, ...]]  # language code → terms, in LANGUAGES order

    @property
    def reference(self) -> str:
        """How a query names it: std.NAME."""
        return PREFIX + self.name

    def all_terms(self) -> tuple[str, ...]:
        return tuple(term for language in LANGUAGES for term in self.terms.get(language, ()))


@cache
def entries() -> Mapping[str, Entry]:
    """Every entry by name, in the file's order."""
    text = files(__name__).joinpath("lexicon.toml").read_text(encoding="utf-8")
    return {name: _entry(name, table) for name, table in tomllib.loads(text).items()}


def _entry(name: str, table: Mapping[str, object]) -> Entry:
    terms = {code: tuple(str(t) for t in _list(table.get(code))) for code in LANGUAGES}
    return Entry(name, str(table.get("description", "")), terms)


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


def find(name: str) -> Entry | None:
    """The entry `name` or `std.name` names, ignoring case."""
    wanted = name.casefold().removeprefix(PREFIX)
    return entries().get(wanted)


def term_key(term: str) -> str:
    """A term as expansion compares it: normalised, without a trailing * or a leading ال."""
    return " ".join(strip_article(word) for word in normalise(term).rstrip("*").split())


@cache
def _index() -> Mapping[str, str]:
    """Term key → the entry holding it; English plurals of one-word terms count too."""
    index: dict[str, str] = {}
    for entry in entries().values():
        for term in entry.all_terms():
            key = term_key(term)
            for form in (key, *(english_plurals(key) if key.isascii() else ())):
                index.setdefault(form, entry.name)
    return index


def entries_reached(terms: Iterable[str]) -> tuple[Entry, ...]:
    """The entries that share a term with `terms`, in the order the terms reach them."""
    index, reached = _index(), dict[str, Entry]()
    for term in terms:
        name = index.get(term_key(term))
        if name is not None:
            reached.setdefault(name, entries()[name])
    return tuple(reached.values())


def expand(terms: Iterable[str]) -> tuple[tuple[str, ...], tuple[Entry, ...]]:
    """`terms` followed by every term of the entries they reach (each once), and those entries."""
    own = tuple(terms)
    reached = entries_reached(own)
    return _distinct((*own, *(term for entry in reached for term in entry.all_terms()))), reached


def _distinct(terms: Iterable[str]) -> tuple[str, ...]:
    """Each term once, by its normalised spelling; the first spelling wins."""
    kept: dict[str, str] = {}
    for term in terms:
        kept.setdefault(normalise(term), term)
    return tuple(kept.values())

"""Cross-script entity names: consonant-skeleton windows and the same-article surname rule.

An entity whose name (or alias) has two or more words in one script also matches, in text of the
other script (Latin ↔ Arabic/Persian), any window of 1–4 consecutive words with the same skeleton
key, provided the key has at least 5 consonants and the window holds no stop word
(notes/arabic.md §3.4: ten times fewer collisions with ordinary word pairs). Once such a full name
was found, its last word alone also counts elsewhere in the same article (notes §3.6, point 4).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise

from service.text.clitics import MAX_PROCLITIC, proclitic_allowed, strip_article
from service.text.skeleton import (
    MIN_KEY,
    STOP_WORDS,
    arabic_token_skeleton,
    latin_token_skeletons,
    name_skeletons,
)
from service.text.tokenise import ARABIC, LETTERS, char_kind, tokenise

MAX_WINDOW = 4
MIN_SURNAME = 4
_ENGLISH_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "it",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "with",
    ]
)


@dataclass(frozen=True, slots=True)
class NameFound:
    """A window of `text_script` tokens in one field whose skeleton is an entity's key."""

    atom: int
    start: int
    end: int
    last_word: str


class StarterMemo:
    """Which words may start a name window, remembered across articles.

    A pure cache (news vocabulary repeats, so almost every word of an article was seen before):
    it turns the per-word Python loop into a few set operations done in C.
    """

    LIMIT = 200_000

    def __init__(self) -> None:
        self.checked: set[str] = set()
        self.starters: set[str] = set()

    def starters_among(self, words: set[str], index: SkeletonIndex) -> set[str]:
        new = words - self.checked
        if new:
            if len(self.checked) > self.LIMIT:
                self.checked, self.starters = set(), set()
            self.checked |= new
            self.starters.update(w for w in new if _may_start(w, index))
        return words & self.starters


@dataclass(frozen=True, slots=True)
class SkeletonIndex:
    """Keys to look for in text of one script (LETTERS names are sought in ARABIC text)."""

    text_script: str
    keys: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    prefixes: frozenset[str] = frozenset()
    memo: StarterMemo = field(default_factory=StarterMemo, compare=False)


def _may_start(word: str, index: SkeletonIndex) -> bool:
    # A first word of one consonant (Abu, Ali, Umm) would start a window almost anywhere.
    skeletons = _arabic_skeletons(word) if index.text_script == ARABIC else latin_token_skeletons(word)
    return word not in _STOPS and any(len(k) >= 2 and k in index.prefixes for k in skeletons)


def build_indexes(names: Iterable[tuple[int, str]]) -> tuple[SkeletonIndex, ...]:
    """One index per text script from (atom, entity name or alias) pairs.

    Keys are made only toward a script in which the entity has no spelling at all: an entity with
    an Arabic alias is matched in Arabic text by its aliases (the analyst took charge of that
    script), and a window search costs a pass over every article of that script.
    """
    spellings: dict[int, list[tuple[str, frozenset[str], str]]] = {}
    for atom, name in names:
        script, found = name_skeletons(name)
        spellings.setdefault(atom, []).append((script, found, name))
    keys: dict[str, dict[str, set[int]]] = {ARABIC: {}, LETTERS: {}}
    for atom, entries in spellings.items():
        present = {script for script, _, _ in entries}
        for script, found, name in entries:
            target = {ARABIC: LETTERS, LETTERS: ARABIC}.get(script)
            if target is None or target in present or len(tokenise(name)) < 2:
                continue  # a single word never matches across scripts by itself
            for key in found:
                if len(key) >= MIN_KEY:
                    keys[target].setdefault(key, set()).add(atom)
    return tuple(_index(script, table) for script, table in keys.items() if table)


def _index(script: str, table: dict[str, set[int]]) -> SkeletonIndex:
    prefixes = frozenset(key[:i] for key in table for i in range(1, len(key) + 1))
    frozen = {key: tuple(sorted(atoms)) for key, atoms in table.items()}
    return SkeletonIndex(script, frozen, prefixes)


_RUNS = {
    # Simple classes on purpose: `re` scans these 2–5× faster than exact Unicode letter classes,
    # and after normalisation only Arabic letters remain in U+0620–U+06FF and a-z in Latin.
    ARABIC: re.compile("[\u0620-\u06ff]+"),
    LETTERS: re.compile("[a-z]+"),
}
_STOPS = STOP_WORDS | _ENGLISH_STOP


@lru_cache(maxsize=1 << 16)
def _arabic_skeletons(word: str) -> tuple[str, ...]:
    return (arabic_token_skeleton(word),)


def _gap_ok(norm: str, end: int, start: int) -> bool:
    gap = norm[end:start]
    return len(gap) <= 3 and not any(char in gap for char in ".!?;\n")


def _extend(key: str, part: str) -> str:
    return key + part[1:] if key and part and key[-1] == part[0] else key + part


class _Window:
    """The words of one field in one script, with their spans computed only when needed."""

    def __init__(self, norm: str, script: str) -> None:
        self.norm = norm
        self.run = _RUNS[script]
        self.words: list[str] = self.run.findall(norm)
        self.skeletons = _arabic_skeletons if script == ARABIC else latin_token_skeletons
        self._spans: list[tuple[int, int]] | None = None

    def span(self, index: int) -> tuple[int, int]:
        if self._spans is None:
            self._spans = [found.span() for found in self.run.finditer(self.norm)]
        return self._spans[index]

    def joined(self, first: int, last: int) -> bool:
        """Do words first..last stand next to each other, with no sentence break between?"""
        spans = [self.span(i) for i in range(first, last + 1)]
        return all(_gap_ok(self.norm, a[1], b[0]) for a, b in pairwise(spans))


def find_names(norm: str, index: SkeletonIndex) -> list[NameFound]:
    """Every window of words in `norm` whose skeleton is one of the index's keys."""
    window = _Window(norm, index.text_script)
    starters = index.memo.starters_among(set(window.words), index)
    found: list[NameFound] = []
    if not starters:
        return found
    for first, word in enumerate(window.words):
        if word in starters:
            for key in window.skeletons(word):
                if key in index.prefixes:
                    found.extend(_windows(window, first, key, index))
    return found


def _windows(window: _Window, first: int, key: str, index: SkeletonIndex) -> list[NameFound]:
    """Extend the window starting at `first` while its key stays a prefix of some entity key."""
    words = window.words
    found: list[NameFound] = []
    partial = [(key, first)]
    while partial:
        key, last = partial.pop()
        complete = window.skeletons(words[last]) != ("",)  # not ending on a Latin "al"
        atoms = index.keys.get(key, ()) if complete else ()
        if atoms and window.joined(first, last):
            start, end = window.span(first)[0], window.span(last)[1]
            found.extend(NameFound(atom, start, end, words[last]) for atom in atoms)
        following = last + 1
        if following - first >= MAX_WINDOW or following >= len(words) or words[following] in _STOPS:
            continue
        for part in window.skeletons(words[following]):
            joined = _extend(key, part)
            if joined in index.prefixes and (part or index.text_script == LETTERS):
                partial.append((joined, following))
    return found


def surname_of(word: str) -> str | None:
    """The form of a found name's last word that may count alone, or None if too weak."""
    surname = strip_article(word)
    if len(surname) < MIN_SURNAME or surname in STOP_WORDS or surname in _ENGLISH_STOP:
        return None
    return surname


def find_surname(norm: str, surname: str) -> list[tuple[int, int]]:
    """Whole-token occurrences of `surname` (proclitics allowed, no suffix) in `norm`."""
    spans = []
    at = norm.find(surname)
    while at >= 0:
        end = at + len(surname)
        kind = char_kind(surname[0])
        if end == len(norm) or char_kind(norm[end]) != kind:
            begin = at
            while begin > 0 and char_kind(norm[begin - 1]) == kind and at - begin <= MAX_PROCLITIC:
                begin -= 1
            token = norm[begin:end]
            if begin == at or (
                kind == ARABIC and proclitic_allowed(token[: at - begin], token, len(surname))
            ):
                spans.append((begin, end))
        at = norm.find(surname, at + 1)
    return spans

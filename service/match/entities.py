"""Cross-script entity names: consonant-skeleton windows and the same-article surname rule.

An entity whose name (or alias) has two or more words in one script also matches, in text of the
other script (Latin ↔ Arabic/Persian), any window of 1–4 consecutive words with the same skeleton
key, provided the key has at least 5 consonants and the window holds no stop word (ten times
fewer collisions with ordinary word pairs than the key alone). A bare surname's key is shared by
dozens of ordinary words, so a surname never counts by its key; once a full name was found, its
last word as written there also counts elsewhere in the same article.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate, compress

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


_SPLITS = {
    # Simple classes on purpose: `re` scans these 2–5× faster than exact Unicode letter classes,
    # and after normalisation only Arabic letters remain in U+0620–U+06FF and a-z in Latin.
    ARABIC: re.compile("([\u0620-\u06ff]+)"),
    LETTERS: re.compile("([a-z]+)"),
}
_STOPS = STOP_WORDS | _ENGLISH_STOP


@lru_cache(maxsize=1 << 16)
def _arabic_skeletons(word: str) -> tuple[str, ...]:
    return (arabic_token_skeleton(word),)


def _extend(key: str, part: str) -> str:
    return key + part[1:] if key and part and key[-1] == part[0] else key + part


_BREAK_CHARS = ".!?;\n"
_LOOKAHEAD = 80  # characters read after a word that may start a name; more only when needed


def _bad_gap(gap: str) -> bool:
    """Does this gap keep the words on either side from being one name?"""
    return len(gap) > 3 or any(char in gap for char in _BREAK_CHARS)


class _Window:
    """The words of `norm[start:stop]` in one script, with their spans computed only when needed.

    One `split` on the script's runs gives the words and the gaps between them, so spans come
    from summing lengths (in C) instead of a regex match object per word. Spans are in `norm`.
    """

    def __init__(self, norm: str, script: str, start: int = 0, stop: int | None = None) -> None:
        self.start = start
        text = norm if start == 0 and stop is None else norm[start:stop]
        self.parts: list[str] = _SPLITS[script].split(text)  # gap, word, gap, word, ..., gap
        self.words: list[str] = self.parts[1::2]
        self.skeletons = _arabic_skeletons if script == ARABIC else latin_token_skeletons
        self._bounds: list[int] | None = None

    def span(self, index: int) -> tuple[int, int]:
        if self._bounds is None:
            self._bounds = list(accumulate(map(len, self.parts), initial=self.start))
        return self._bounds[2 * index + 1], self._bounds[2 * index + 2]

    def joined(self, first: int, last: int) -> bool:
        """Do words first..last stand next to each other, with no sentence break between?"""
        return not any(map(_bad_gap, self.parts[2 * first + 2 : 2 * last + 1 : 2]))


def find_names(norm: str, index: SkeletonIndex) -> list[NameFound]:
    """Every window of words in `norm` whose skeleton is one of the index's keys."""
    window = _Window(norm, index.text_script)
    starters = index.memo.starters_among(set(window.words), index)
    found: list[NameFound] = []
    if not starters:
        return found
    words = window.words
    for first in compress(range(len(words)), map(starters.__contains__, words)):
        for key in window.skeletons(words[first]):
            if key in index.prefixes:
                found.extend(_windows(window, first, key, index))
    return found


def starter_offsets(text: str, index: SkeletonIndex) -> list[int]:
    """Where the words of `text` that may start a name window begin (in text order)."""
    parts = _SPLITS[index.text_script].split(text)
    words = parts[1::2]
    starters = index.memo.starters_among(set(words), index)
    if not starters:
        return []
    bounds = list(accumulate(map(len, parts), initial=0))
    return [bounds[2 * i + 1] for i in compress(range(len(words)), map(starters.__contains__, words))]


def find_names_from(
    norm: str, index: SkeletonIndex, starts: Iterable[int], lookahead: int = _LOOKAHEAD
) -> list[NameFound]:
    """`find_names(norm, index)`, given where its starting words are (`starter_offsets`).

    A window holds at most MAX_WINDOW words, so only a short stretch after each start (`lookahead`
    characters) is split into words: the whole rest of the field only when that stretch could cut
    a window short.
    """
    found: list[NameFound] = []
    for start in starts:
        window = _Window(norm, index.text_script, start, start + lookahead)
        complete = (
            start + lookahead >= len(norm)
            or len(window.words) > MAX_WINDOW
            or any(map(_bad_gap, window.parts[2::2]))  # no window runs past a bad gap
        )
        if not complete:
            window = _Window(norm, index.text_script, start)
        for key in window.skeletons(window.words[0]):
            if key in index.prefixes:
                found.extend(_windows(window, 0, key, index))
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

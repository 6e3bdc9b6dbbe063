"""The hot path: find every term key in one normalised field and keep the whole-word occurrences.

One Aho-Corasick pass (ahocorasick_rs, overlapping, so a word watched by one list and a phrase
containing it watched by another are both found) reports raw substring hits; each is then checked
against the text token around it (notes/performance.md §8). Cost grows with the hits in the
text, not with the number of watchlists.
"""

from __future__ import annotations

from collections.abc import Sequence

import ahocorasick_rs

from service.match.terms import EXACT, FEMININE_PLURAL, KEYWORD, NEEDS_SUFFIX, PREFIX
from service.text.clitics import (
    MAX_PROCLITIC,
    MAX_SUFFIX,
    SUFFIXES,
    proclitic_allowed,
)
from service.text.normalise import Normalised, normalise_with_offsets
from service.text.tokenise import ARABIC, NUMBER, SEPARATOR, char_kind

# Phrases and names do not run across a sentence or line break.
_BREAKS = frozenset("!?;\n\r\u2029")

Rules = tuple[tuple[int, int], ...]  # (variant id, rule) per automaton pattern


def suffix_allowed(rule: int, suffix: str, stem: int) -> bool:
    """May `suffix` (the rest of the text token) follow a key of `stem` letters under `rule`?"""
    if rule == EXACT:
        return not suffix
    if rule == KEYWORD:
        return not suffix or (stem >= 3 and suffix in SUFFIXES)
    if rule == NEEDS_SUFFIX:
        return suffix in SUFFIXES
    if rule == FEMININE_PLURAL:
        return suffix == "ات"
    return rule == PREFIX


def _kind(char: str) -> str:
    return char_kind(char)


def _arabic_token_start(norm: str, start: int, kinds: dict[str, str]) -> int:
    """Start of the Arabic token holding `start`, or -1 when more than a proclitic precedes it."""
    begin = start - 1
    while begin > 0 and (kinds.get(norm[begin - 1]) or _kind(norm[begin - 1])) == ARABIC:
        begin -= 1
        if start - begin > MAX_PROCLITIC:
            return -1
    return begin


def _inside_number(norm: str, start: int, end: int) -> bool:
    """3 in 3.5 or 1,000 is not the number 3."""
    before = start >= 2 and norm[start - 1] in ".," and char_kind(norm[start - 2]) == NUMBER
    after = end + 1 < len(norm) and norm[end] in ".," and char_kind(norm[end + 1]) == NUMBER
    return before or after


class FieldScan:
    """Whole-word occurrences of term variants in one field, keyed by text-token start."""

    __slots__ = ("_offsets", "at", "by_variant", "ends", "index", "norm", "original")

    def __init__(self, index: int, original: str, norm: str) -> None:
        self.index = index
        self.original = original
        self.norm = norm
        self.ends: dict[int, int] = {}  # token start → token end
        self.at: dict[int, set[int]] = {}  # token start → variants found in that token
        self.by_variant: dict[int, list[int]] = {}  # variant → token starts
        self._offsets: Normalised | None = None

    def add(self, variant: int, begin: int, stop: int) -> None:
        self.ends[begin] = stop
        found = self.at.setdefault(begin, set())
        if variant not in found:
            found.add(variant)
            self.by_variant.setdefault(variant, []).append(begin)

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        if self._offsets is None:
            self._offsets = normalise_with_offsets(self.original, self.norm)
        return self._offsets.original_span(start, end)

    def next_token(self, end: int, previous_start: int) -> int:
        """Start of the token after the one ending at `end`, if only a phrase gap separates them."""
        pos, size, norm = end, len(self.norm), self.norm
        while pos < size and char_kind(norm[pos]) == SEPARATOR:
            char = norm[pos]
            # A full stop ends a sentence unless it follows a one-letter abbreviation (U.S.).
            if char in _BREAKS or (char == "." and end - previous_start > 1):
                return -1
            pos += 1
        return pos if pos < size else -1


def scan_field(
    index: int,
    original: str,
    norm: str,
    automaton: ahocorasick_rs.AhoCorasick,
    rules: Sequence[Rules],
) -> FieldScan:
    """Every whole-word occurrence of a compiled variant in one normalised field.

    This loop runs for every raw automaton hit, most of them keys inside longer words; it is
    written flat, with the common rejections first, because it dominates matching time.
    """
    scan = FieldScan(index, original, norm)
    kinds = char_kind.memo
    size = len(norm)
    for pattern, start, end in automaton.find_matches_as_indexes(norm, overlapping=True):
        kind = kinds.get(norm[start]) or _kind(norm[start])
        begin = start
        if start and (kinds.get(norm[start - 1]) or _kind(norm[start - 1])) == kind:
            if kind != ARABIC:
                continue
            begin = _arabic_token_start(norm, start, kinds)
            if begin < 0:
                continue
        variants = rules[pattern]
        limit = size if variants[-1][1] == PREFIX else end + MAX_SUFFIX
        stop = end
        while stop < size and (kinds.get(norm[stop]) or _kind(norm[stop])) == kind:
            stop += 1
            if stop > limit:
                break
        if stop > limit or (kind == NUMBER and _inside_number(norm, start, end)):
            continue
        if begin < start and not proclitic_allowed(norm[begin:start], norm[begin:stop], stop - start):
            continue
        suffix = norm[end:stop]
        for variant, rule in variants:
            if suffix_allowed(rule, suffix, end - start):
                scan.add(variant, begin, stop)
    return scan

"""The hot path: find every term key in one normalised field and keep the whole-word occurrences.

Whether a key occurrence stands as a whole word (with an allowed proclitic before it and an
allowed suffix after it) depends only on the characters around it up to the nearest whitespace:
the checks walk over letters, digits and the `.`/`,` of numbers, never over a space. So the field
is split into whitespace-free chunks (`str.split`, in C) and each distinct chunk's whole-word hits,
relative to the chunk, are remembered across fields and items in a `ChunkMemo`. News vocabulary
repeats, so most chunks of an article were seen before and cost a set lookup; the cost per article
no longer grows with the number of terms (the automaton is not run over text already seen).

Chunks not seen before are analysed together: one Aho-Corasick pass (ahocorasick_rs, overlapping,
so a word watched by one list and a phrase containing it watched by another are both found) over
the new chunks joined by newlines, and the per-hit checks of `_accepted` on its raw hits
(notes/performance.md §8), the same checks `scan_field` makes over a whole field in one pass; the
tests hold the two to the same result. Keys that a chunk cannot hold (keys with whitespace inside,
or starting with punctuation) go to a second automaton that runs over the whole field with the same
checks; real watchlists rarely have any.

The same pass finds, for each cross-script name index, the words that may start a name, so a name
search looks only near those (`FieldScan.starters`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from itertools import accumulate, compress
from operator import itemgetter

import ahocorasick_rs

from service.match.entities import SkeletonIndex, starter_offsets
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
# The whitespace besides the space that normalised text usually holds (NFKD makes the no-break and
# typographic spaces plain ones).
_USUAL_SPACES = "\n\t\r"

Rules = tuple[tuple[int, int], ...]  # (variant id, rule) per automaton pattern
# (variant, token start, token end, end of the key) of the whole-word hits in one chunk, relative
# to the chunk, in automaton order (by the end of the key).
ChunkHits = tuple[tuple[int, int, int, int], ...]


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


def chunk_safe(key: str) -> bool:
    """Can every whole-word occurrence of `key` be decided inside one whitespace-free chunk?"""
    return key.split() == [key] and char_kind(key[0]) != SEPARATOR  # no whitespace, starts a word


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


def _accepted(
    norm: str, raw: Iterable[tuple[int, int, int]], rules: Sequence[Rules]
) -> list[tuple[int, int, int, int]]:
    """(variant, token start, token end, key end) of each raw hit that stands as a whole word.

    In the automaton's order (by key end). This loop runs for every raw hit in text not seen
    before, most of them keys inside longer words; it is written flat, common rejections first.
    """
    kept: list[tuple[int, int, int, int]] = []
    kinds = char_kind.memo
    size = len(norm)
    for pattern, start, end in raw:
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
                kept.append((variant, begin, stop, end))
    return kept


class _MemoState:
    """One generation of the memo: replaced whole, never cleared, so a reader stays consistent."""

    __slots__ = ("hits", "hitting", "named", "seen", "starters")

    def __init__(self, indexes: int) -> None:
        self.seen: set[str] = set()  # every chunk analysed
        self.hitting: set[str] = set()  # those with at least one whole-word hit
        self.hits: dict[str, ChunkHits] = {}  # and their hits
        # Per skeleton index: chunks holding a word that may start a cross-script name, and where.
        self.named: tuple[set[str], ...] = tuple(set() for _ in range(indexes))
        self.starters: tuple[dict[str, tuple[int, ...]], ...] = tuple({} for _ in range(indexes))


class ChunkMemo:
    """Whole-word hits per distinct whitespace-free chunk, remembered across items.

    A pure cache of a pure function of the chunk (for one compiled matcher). It starts afresh once
    it holds `LIMIT` chunks, which bounds it to a few tens of MB.
    """

    LIMIT = 200_000

    __slots__ = ("indexes", "state")

    def __init__(self, indexes: int) -> None:
        self.indexes = indexes
        self.state = _MemoState(indexes)

    def current(self, incoming: int) -> _MemoState:
        state = self.state
        if len(state.seen) + incoming > self.LIMIT:
            state = self.state = _MemoState(self.indexes)
        return state


class Scanner:
    """The compiled keys of one matcher, split by where their occurrences can be decided.

    It also finds, per field, the words that may start a cross-script name of each skeleton
    index (`FieldScan.starters`), from the same chunks and memo.
    """

    __slots__ = ("automaton", "fallback", "fallback_rules", "indexes", "memo", "rules")

    def __init__(
        self, keys: Sequence[str], rules: Sequence[Rules], indexes: Sequence[SkeletonIndex] = ()
    ) -> None:
        safe: tuple[list[str], list[Rules]] = ([], [])
        other: tuple[list[str], list[Rules]] = ([], [])
        kinds = char_kind.memo
        for key, rule in zip(keys, rules, strict=True):
            # chunk_safe(key), inlined: it runs once per key
            safe_key = key.split() == [key] and (kinds.get(key[0]) or char_kind(key[0])) != SEPARATOR
            kept = safe if safe_key else other
            kept[0].append(key)
            kept[1].append(rule)
        self.automaton = ahocorasick_rs.AhoCorasick(safe[0]) if safe[0] else None
        self.rules: tuple[Rules, ...] = tuple(safe[1])
        self.fallback = ahocorasick_rs.AhoCorasick(other[0]) if other[0] else None
        self.fallback_rules: tuple[Rules, ...] = tuple(other[1])
        self.indexes = tuple(indexes)
        self.memo = ChunkMemo(len(self.indexes))

    def learn(self, state: _MemoState, new: set[str]) -> None:
        """Analyse chunks not seen before, all in one automaton pass."""
        words = list(new)
        joined = "\n".join(words)  # a newline never occurs inside a chunk-safe key or a word
        starts = list(accumulate((len(w) + 1 for w in words[:-1]), initial=0))
        automaton = self.automaton
        raw = automaton.find_matches_as_indexes(joined, overlapping=True) if automaton else []
        if raw:
            found: dict[int, list[tuple[int, int, int, int]]] = {}
            for variant, begin, stop, end in _accepted(joined, raw, self.rules):
                j = bisect_right(starts, begin) - 1
                offset = starts[j]
                found.setdefault(j, []).append((variant, begin - offset, stop - offset, end - offset))
            for j, hits in found.items():
                state.hits[words[j]] = tuple(hits)  # automaton order: see FieldScan.add_all
                state.hitting.add(words[j])
        for number, index in enumerate(self.indexes):
            offsets: dict[int, list[int]] = {}
            for at in starter_offsets(joined, index):
                j = bisect_right(starts, at) - 1
                offsets.setdefault(j, []).append(at - starts[j])
            for j, found_at in offsets.items():
                state.starters[number][words[j]] = tuple(found_at)
                state.named[number].add(words[j])
        state.seen |= new

    def scan(self, index: int, original: str, norm: str) -> FieldScan:
        """Every whole-word occurrence of a compiled variant in one normalised field."""
        scan = FieldScan(index, original, norm)
        if self.automaton is not None or self.indexes:
            # Every whitespace character becomes a space (same length), so that split(" ")
            # gives the chunks with empty strings between repeated spaces: offsets stay exact.
            # (Any other whitespace left inside a chunk makes the chunk rarer, never wrong.)
            spaced = norm
            for space in _USUAL_SPACES:
                if space in spaced:
                    spaced = spaced.replace(space, " ")
            parts = spaced.split(" ")
            chunks = set(parts)
            chunks.discard("")
            state = self.memo.current(len(chunks))
            new = chunks.difference(state.seen)
            if new:
                self.learn(state, new)
            found = chunks & state.hitting
            named = [chunks & chunks_named for chunks_named in state.named]
            wanted = found.union(*named)
            placed = _positions(spaced, parts, wanted) if wanted else []
            if found and self.fallback is None:
                _place(scan, placed, found, state.hits)
            elif found or self.fallback is not None:
                scan.add_all(self._merged(norm, placed, found, state.hits))
            scan.starters = [
                sorted(
                    at + offset for at, chunk in placed if chunk in chunks_named for offset in starters[chunk]
                )
                if chunks_named
                else []
                for chunks_named, starters in zip(named, state.starters, strict=True)
            ]
        elif self.fallback is not None:
            scan.add_all(self._merged(norm, [], set(), {}))
        return scan

    def _merged(
        self, norm: str, placed: list[tuple[int, str]], found: set[str], hits: dict[str, ChunkHits]
    ) -> list[tuple[int, int, int, int]]:
        """The chunks' hits and the fallback automaton's, in automaton order (by key end)."""
        merged = [
            (variant, at + start, at + stop, at + end)
            for at, chunk in placed
            if chunk in found
            for variant, start, stop, end in hits[chunk]
        ]
        if self.fallback is not None:
            raw = self.fallback.find_matches_as_indexes(norm, overlapping=True)
            merged.extend(_accepted(norm, raw, self.fallback_rules))
        merged.sort(key=itemgetter(3))
        return merged


_FEW = 8  # up to this many distinct chunks to place, str.find beats a pass over every chunk


def _positions(spaced: str, parts: list[str], wanted: set[str]) -> list[tuple[int, str]]:
    """(offset, chunk) of every occurrence in the field of the chunks in `wanted`.

    Part i of the field split on single spaces starts after the i parts before it and their i
    spaces: for many chunks, accumulate and compress find those places in C. For a few, finding
    " chunk " in the space-padded field is quicker, and exact: chunks are delimited by spaces.
    """
    if len(wanted) <= _FEW:
        padded = " " + spaced + " "
        placed: list[tuple[int, str]] = []
        for chunk in wanted:
            needle = " " + chunk + " "
            step = len(chunk) + 1  # the space after one occurrence may start the next
            at = padded.find(needle)
            while at >= 0:
                placed.append((at, chunk))
                at = padded.find(needle, at + step)
        return placed
    before = list(accumulate(map(len, parts), initial=0))
    indexes = compress(range(len(parts)), map(wanted.__contains__, parts))
    return [(before[i] + i, parts[i]) for i in indexes]


def _place(
    scan: FieldScan, placed: list[tuple[int, str]], found: set[str], hits: dict[str, ChunkHits]
) -> None:
    """Add the hits of each found chunk at every place it stands in the field."""
    ends, at_token, by_variant = scan.ends, scan.at, scan.by_variant
    for at, chunk in placed:
        if chunk not in found:
            continue  # placed for a name starter only
        for variant, start, stop, _ in hits[chunk]:  # FieldScan.add_all, inlined
            begin = at + start  # FieldScan.add, inlined: this runs for every hit of the field
            ends[begin] = at + stop
            variants = at_token.get(begin)
            if variants is None:
                variants = at_token[begin] = set()
            if variant not in variants:
                variants.add(variant)
                starts = by_variant.get(variant)
                if starts is None:
                    by_variant[variant] = [begin]
                else:
                    starts.append(begin)


class FieldScan:
    """Whole-word occurrences of term variants in one field, keyed by text-token start."""

    __slots__ = ("_offsets", "at", "by_variant", "ends", "index", "norm", "original", "starters")

    def __init__(self, index: int, original: str, norm: str) -> None:
        self.index = index
        self.original = original
        self.norm = norm
        self.ends: dict[int, int] = {}  # token start → token end
        self.at: dict[int, set[int]] = {}  # token start → variants found in that token
        self.by_variant: dict[int, list[int]] = {}  # variant → token starts
        # Per skeleton index: where the words that may start a name stand (None: not looked for).
        self.starters: list[list[int]] | None = None
        self._offsets: Normalised | None = None

    def add(self, variant: int, begin: int, stop: int) -> None:
        self.ends[begin] = stop
        found = self.at.setdefault(begin, set())
        if variant not in found:
            found.add(variant)
            self.by_variant.setdefault(variant, []).append(begin)

    def add_all(self, hits: Iterable[tuple[int, int, int, int]]) -> None:
        """Add (variant, start, stop, key end) hits given in automaton order.

        The order matters only for `ends`: when keys of different lengths start at one place,
        the token end kept is that of the hit whose key ends last, as one automaton pass gives.
        (Hits of one chunk keep that order among themselves; chunks never share a start.)
        """
        for variant, begin, stop, _ in hits:
            self.add(variant, begin, stop)

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        if end > start and self.original.isascii():
            return start, end  # normalising ASCII only lowercases: offsets do not move
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
    """Every whole-word occurrence in one field from one automaton pass over all of it.

    The direct form of `Scanner.scan` (no memo, no chunks): the reference the tests hold it to.
    """
    scan = FieldScan(index, original, norm)
    scan.add_all(_accepted(norm, automaton.find_matches_as_indexes(norm, overlapping=True), rules))
    return scan

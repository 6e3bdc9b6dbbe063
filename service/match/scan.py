"""The hot path: find every term key in one normalised field and keep the whole-word occurrences.

Whether a key occurrence stands as a whole word (with an allowed proclitic before it and an
allowed suffix after it) depends only on the characters around it up to the nearest whitespace:
the checks walk over letters, digits and the `.`/`,` of numbers, never over a space. So the field
is cut into whitespace-free chunks and each distinct chunk's whole-word hits, relative to the
chunk, are remembered across fields and items in a `ChunkMemo`. News vocabulary repeats, so most
chunks of an article were seen before and cost one table lookup; the cost per article no longer
grows with the number of terms (the automaton is not run over text already seen). The table is
`_chunks.ChunkTable`, written in C: it walks the field in place and makes a str only for a chunk
it has not seen, where `_DictTable`, its Python twin, splits the field into one str per chunk.

Chunks not seen before are analysed together: one Aho-Corasick pass (ahocorasick_rs, overlapping,
so a word watched by one list and a phrase containing it watched by another are both found) over
the new chunks joined by newlines, and the per-hit checks of `_accepted` on its raw hits (a
key inside a longer word counts only with a clitic or suffix its term allows), the same checks `scan_field` makes over a whole field in one pass; the
tests hold the two to the same result. Keys that a chunk cannot hold (keys with whitespace inside,
or starting with punctuation) go to a second automaton that runs over the whole field with the same
checks; real watchlists rarely have any.

The same pass finds, for each cross-script name index, the words that may start a name, so a name
search looks only near those (`FieldScan.starters`).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from itertools import accumulate
from operator import itemgetter
from typing import Protocol

import ahocorasick_rs

from service.match.entities import SkeletonIndex, StartFinders
from service.match.terms import (
    EXACT,
    FEMININE_PLURAL,
    KEYWORD,
    KURDISH_SUFFIXES,
    NEEDS_SUFFIX,
    PREFIX,
    SORANI_RULES,
)
from service.text.clitics import (
    MAX_PROCLITIC,
    MAX_SUFFIX,
    SUFFIXES,
    proclitic_allowed,
)
from service.text.kurdish import sorani_written
from service.text.normalise import Normalised, normalise_with_offsets
from service.text.tokenise import ARABIC, NUMBER, SEPARATOR, char_kind

try:
    from service.match import _chunks
except ImportError:  # built without a C compiler: the Python table does the same
    _chunks = None  # type: ignore[assignment]

# Phrases and names do not run across a sentence or line break.
_BREAKS = frozenset("!?;\n\r\u2029")
# The whitespace besides the space that normalised text usually holds (NFKD makes the no-break and
# typographic spaces plain ones).
_USUAL_SPACES = "\n\t\r"

Rules = tuple[tuple[int, int], ...]  # (variant id, rule) per automaton pattern
# (variant, token start, token end, end of the key) of the whole-word hits in one chunk, relative
# to the chunk, in automaton order (by the end of the key).
ChunkHits = tuple[tuple[int, int, int, int], ...]
Placed = tuple[int, str, int]  # (offset in the field, chunk, its memo flags)


def _reach(rule: int) -> int:
    """How far past a key its text token may run under `rule`."""
    if rule == PREFIX:
        return 1 << 30
    suffixes = KURDISH_SUFFIXES.get(rule)
    return MAX_SUFFIX if suffixes is None else max(map(len, suffixes))


# By rule number. The scanner reads the reach of a key's highest rule (compile sorts a key's rules),
# so each rule reaches at least as far as the rules below it.
REACH: tuple[int, ...] = tuple(accumulate(map(_reach, range(PREFIX + 1)), max))


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
    if rule == PREFIX:
        return True
    return stem >= 3 and suffix in KURDISH_SUFFIXES[rule]


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
        limit = end + REACH[variants[-1][1]]
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


_HITS = 1  # flag: the chunk holds a whole-word hit (its hits are in _MemoState.hits)
# flag << n: the chunk holds a word that may start a cross-script name of skeleton index n


class _DictTable:
    """What each chunk holds, in a dict: `_chunks.ChunkTable` in Python.

    Used where the C extension was not built; the tests hold the two to the same answers.
    """

    __slots__ = ("flags", "pending")

    def __init__(self) -> None:
        self.flags: dict[str, int] = {"": 0}
        self.pending: set[str] = set()  # handed out by a walk, flags not recorded yet

    def __len__(self) -> int:
        return len(self.flags) - 1 + len(self.pending)

    def update(self, flags: dict[str, int]) -> None:
        self.flags.update(flags)
        self.flags[""] = 0
        self.pending.difference_update(flags)

    def settle(self, chunks: list[str], flags: list[int], placed: list[Placed], where: bytes) -> list[Placed]:
        self.update(dict(zip(chunks, flags, strict=True)))
        pairs = array("q")
        pairs.frombytes(where)
        added = [
            (pairs[i], chunks[pairs[i + 1]], flags[pairs[i + 1]])
            for i in range(0, len(pairs), 2)
            if flags[pairs[i + 1]]
        ]
        return sorted(placed + added) if added else placed  # no two chunks share an offset

    def get(self, chunk: str) -> int | None:
        return self.flags.get(chunk)

    def walk(self, text: str) -> tuple[list[Placed], list[str], bytes]:
        """(offset, chunk, flags) of the chunks that hold something, the chunks never seen (each
        once, in text order; pending until `settle`) and where those stand."""
        # Every whitespace character becomes a space (same length), so that split(" ") gives
        # the chunks with empty strings between repeated spaces: offsets stay exact. (Any other
        # whitespace left inside a chunk makes the chunk rarer, never wrong.)
        spaced = text
        for space in _USUAL_SPACES:
            if space in spaced:
                spaced = spaced.replace(space, " ")
        placed, new, where = _placed(spaced.split(" "), self.flags)
        self.pending.update(new)
        return placed, new, where


class _Table(Protocol):
    def __len__(self) -> int: ...
    def update(self, flags: dict[str, int], /) -> None: ...
    def settle(
        self, chunks: list[str], flags: list[int], placed: list[Placed], where: bytes, /
    ) -> list[Placed]: ...
    def walk(self, text: str, /) -> tuple[list[Placed], list[str], bytes]: ...


def new_table(python: bool = False) -> _Table:
    """The C chunk table where it was built (or the Python one if `python`), else the Python one."""
    if _chunks is None or python:
        return _DictTable()
    return _chunks.ChunkTable()


class _MemoState:
    """One generation of the memo: replaced whole, never cleared, so a reader stays consistent."""

    __slots__ = ("hits", "starters", "table")

    def __init__(self, indexes: int, python: bool = False) -> None:
        # Every chunk analysed, with what it holds: 0 for nothing (most chunks), else _HITS and
        # the name-start bits. One lookup per chunk of a field tells all a scan needs.
        self.table = new_table(python)
        self.hits: dict[str, ChunkHits] = {}  # the whole-word hits of the chunks that have some
        # Per skeleton index: where in a chunk the words that may start a name stand.
        self.starters: tuple[dict[str, tuple[int, ...]], ...] = tuple({} for _ in range(indexes))


MEMO_LIMIT = 200_000  # chunks a memo holds before it starts afresh


class ChunkMemo:
    """Whole-word hits per distinct whitespace-free chunk, remembered across items.

    A pure cache of a pure function of the chunk (for one compiled matcher). It starts afresh once
    it holds `limit` chunks, which bounds it to a few tens of MB.
    """

    __slots__ = ("indexes", "limit", "python", "state")

    def __init__(self, indexes: int, python: bool = False, limit: int = MEMO_LIMIT) -> None:
        self.indexes = indexes
        self.python = python  # the Python table even where the C one was built (for the tests)
        self.limit = limit
        self.state = _MemoState(indexes, python)

    def current(self) -> _MemoState:
        """The state to learn in: a fresh one once the table passed its limit (the walk that
        found the new chunks has already counted them)."""
        state = self.state
        if len(state.table) > self.limit:
            state = self.state = _MemoState(self.indexes, self.python)
        return state


def _name_bit(number: int) -> int:
    return _HITS << (number + 1)


class Scanner:
    """The compiled keys of one matcher, split by where their occurrences can be decided.

    It also finds, per field, the words that may start a cross-script name of each skeleton
    index (`FieldScan.starters`), from the same chunks and memo.
    """

    __slots__ = ("automaton", "fallback", "fallback_rules", "finders", "indexes", "memo", "rules", "sorani")

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
        self.finders = StartFinders(self.indexes)
        self.memo = ChunkMemo(len(self.indexes))
        self.sorani = sorani_variants(rules)

    def learn(self, state: _MemoState, new: list[str], placed: list[Placed], where: bytes) -> list[Placed]:
        """Analyse chunks not seen before, all in one automaton pass; the walk's `placed` with the
        new chunks that hold something added `where` they stand (no second walk of the field).
        """
        joined = "\n".join(new)  # a newline never occurs inside a chunk-safe key or a word
        flags = [0] * len(new)
        automaton = self.automaton
        raw = automaton.find_matches_as_indexes(joined, overlapping=True) if automaton else []
        if raw:
            accepted = _accepted(joined, raw, self.rules)
            found: dict[int, list[tuple[int, int, int, int]]] = {}
            owners = _owners(new, [begin for _, begin, _, _ in accepted])
            for (variant, begin, stop, end), (j, offset) in zip(accepted, owners, strict=True):
                found.setdefault(j, []).append((variant, begin - offset, stop - offset, end - offset))
            for j, hits in found.items():
                state.hits[new[j]] = tuple(hits)  # automaton order: see FieldScan.add_all
                flags[j] = _HITS
        if self.indexes:
            for number, offsets in enumerate(self.finders.find(joined)):
                if not offsets:
                    continue
                at_word: dict[int, list[int]] = {}
                for at, (j, offset) in zip(offsets, _owners(new, offsets), strict=True):
                    at_word.setdefault(j, []).append(at - offset)
                bit = _name_bit(number)
                starters = state.starters[number]
                for j, found_at in at_word.items():
                    starters[new[j]] = tuple(found_at)
                    flags[j] |= bit
        # last: a chunk is known only once all it holds is recorded
        return state.table.settle(new, flags, placed, where)

    def scan(self, index: int, original: str, norm: str, moved: tuple[str, ...] | None = None) -> FieldScan:
        """Every whole-word occurrence of a compiled variant in one normalised field.

        `moved` is what `normalise_marked` said of `original` (None when not known).
        """
        scan = FieldScan(index, original, norm, moved)
        if self.automaton is not None or self.indexes:
            state = self.memo.state
            placed, new, where = state.table.walk(norm)
            if new:
                fresh = self.memo.current()
                if fresh is not state:  # the memo started afresh: every chunk is new to it
                    state = fresh
                    placed, new, where = state.table.walk(norm)
                if new:
                    placed = self.learn(state, new, placed, where)
            if self.fallback is None:
                if placed:
                    _place(scan, placed, state.hits)
            else:
                scan.add_all(self._merged(norm, placed, state.hits))
            scan.starters = _starters(placed, state.starters)
        elif self.fallback is not None:
            scan.add_all(self._merged(norm, [], {}))
        if self.sorani and scan.by_variant:
            keep_sorani_words(scan, self.sorani)
        return scan

    def scan_directly(self, index: int, original: str, norm: str) -> FieldScan:
        """`scan` without the chunk memo: each automaton once over the whole field, and no name
        starters (names are then sought over every word). The reference the tests hold `scan` to.
        """
        hits: list[tuple[int, int, int, int]] = []
        for automaton, rules in ((self.automaton, self.rules), (self.fallback, self.fallback_rules)):
            if automaton is not None:
                raw = automaton.find_matches_as_indexes(norm, overlapping=True)
                hits.extend(_accepted(norm, raw, rules))
        hits.sort(key=itemgetter(3))
        scan = FieldScan(index, original, norm)
        scan.add_all(hits)
        keep_sorani_words(scan, self.sorani)
        return scan

    def _merged(
        self, norm: str, placed: list[Placed], hits: dict[str, ChunkHits]
    ) -> list[tuple[int, int, int, int]]:
        """The chunks' hits and the fallback automaton's, in automaton order (by key end)."""
        merged = [
            (variant, at + start, at + stop, at + end)
            for at, chunk, flags in placed
            if flags & _HITS
            for variant, start, stop, end in hits[chunk]
        ]
        if self.fallback is not None:
            raw = self.fallback.find_matches_as_indexes(norm, overlapping=True)
            merged.extend(_accepted(norm, raw, self.fallback_rules))
        merged.sort(key=itemgetter(3))
        return merged


def _owners(words: list[str], offsets: list[int]) -> list[tuple[int, int]]:
    """(word, where it starts) in "\n".join(words) of each offset, the offsets in word order.

    One step per word up to the last offset, in native ints: no list of every word's start.
    """
    owners: list[tuple[int, int]] = []
    j = 0
    start = 0
    end = len(words[0]) if words else 0
    for at in offsets:
        while at > end:  # at == end is the newline after word j: never a hit or a name start
            j += 1
            start = end + 1
            end = start + len(words[j])
        owners.append((j, start))
    return owners


def _placed(parts: list[str], known: dict[str, int]) -> tuple[list[Placed], list[str], bytes]:
    """Where the chunks that hold something stand in the field, the chunks not seen before, and
    where those stand (as `_chunks.ChunkTable.walk` packs them: offset, place in the list).

    Part i of the field split on single spaces starts one past the end of part i - 1. This is
    the one loop over every chunk of every field; compiled, it runs over native ints and costs
    one dict lookup per chunk.
    """
    placed: list[Placed] = []
    new: dict[str, int] = {}
    where = array("q")
    at = 0
    for part in parts:
        flags = known.get(part)
        if flags is None:
            where.append(at)
            where.append(new.setdefault(part, len(new)))
        elif flags:
            placed.append((at, part, flags))
        at += len(part) + 1
    return placed, list(new), where.tobytes()


def _place(scan: FieldScan, placed: list[Placed], hits: dict[str, ChunkHits]) -> None:
    """Add the hits of each chunk that has some at every place it stands in the field."""
    ends, at_token, by_variant = scan.ends, scan.at, scan.by_variant
    for at, chunk, flags in placed:
        if not flags & _HITS:
            continue  # placed for a name starter only
        for variant, start, stop, _ in hits[chunk]:  # FieldScan.add_all, inlined
            begin = at + start  # FieldScan.add, inlined: this runs for every hit of the field
            ends[begin] = at + stop
            variants = at_token.get(begin)
            if variants is None:  # the usual case: the first variant found in this token
                at_token[begin] = [variant]
            elif variant not in variants:
                variants.append(variant)
            else:
                continue
            starts = by_variant.get(variant)
            if starts is None:
                by_variant[variant] = [begin]
            else:
                starts.append(begin)


def _starters(placed: list[Placed], starters: tuple[dict[str, tuple[int, ...]], ...]) -> list[list[int]]:
    """Per skeleton index, the sorted field offsets of the words that may start a name."""
    found: list[list[int]] = []
    for number, offsets in enumerate(starters):
        bit = _name_bit(number)
        found.append(
            sorted([at + offset for at, chunk, flags in placed if flags & bit for offset in offsets[chunk]])
        )
    return found


class FieldScan:
    """Whole-word occurrences of term variants in one field, keyed by text-token start."""

    __slots__ = ("_offsets", "at", "by_variant", "ends", "index", "moved", "norm", "original", "starters")

    def __init__(self, index: int, original: str, norm: str, moved: tuple[str, ...] | None = None) -> None:
        self.index = index
        self.original = original
        self.norm = norm
        self.moved = moved  # see normalise_marked
        self.ends: dict[int, int] = {}  # token start → token end
        self.at: dict[int, list[int]] = {}  # token start → variants found in that token (a few)
        self.by_variant: dict[int, list[int]] = {}  # variant → token starts
        # Per skeleton index: where the words that may start a name stand (None: not looked for).
        self.starters: list[list[int]] | None = None
        self._offsets: Normalised | None = None

    def add(self, variant: int, begin: int, stop: int) -> None:
        self.ends[begin] = stop
        found = self.at.setdefault(begin, [])
        if variant not in found:
            found.append(variant)
            self.by_variant.setdefault(variant, []).append(begin)

    def add_all(self, hits: Iterable[tuple[int, int, int, int]]) -> None:
        """Add (variant, start, stop, key end) hits given in automaton order.

        The order matters only for `ends`: when keys of different lengths start at one place,
        the token end kept is that of the hit whose key ends last, as one automaton pass gives.
        (Hits of one chunk keep that order among themselves; chunks never share a start.)
        """
        for variant, begin, stop, _ in hits:
            self.add(variant, begin, stop)

    def drop(self, variant: int, begin: int) -> None:
        """Forget that `variant` stands on the token at `begin` (the token too, if nothing else does)."""
        starts = self.by_variant[variant]
        starts.remove(begin)
        if not starts:
            del self.by_variant[variant]
        found = self.at[begin]
        found.remove(variant)
        if not found:
            del self.at[begin], self.ends[begin]

    def original_word(self, begin: int) -> str:
        """The text token starting at `begin` as the original field writes it."""
        start, end = self.original_span(begin, self.ends[begin])
        return self.original[start:end]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        if end > start and self.original.isascii():
            return start, end  # normalising ASCII only lowercases: offsets do not move
        if self._offsets is None:
            self._offsets = normalise_with_offsets(self.original, self.norm, moved=self.moved)
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
    keep_sorani_words(scan, sorani_variants(rules))
    return scan


def sorani_variants(rules: Sequence[Rules]) -> frozenset[int]:
    """The variants that a Sorani suffix rule admits (they stand only on Sorani-written words)."""
    return frozenset([variant for pairs in rules for variant, rule in pairs if rule in SORANI_RULES])


def keep_sorani_words(scan: FieldScan, sorani: frozenset[int]) -> None:
    """Drop the hits of `sorani` variants on words not written in Sorani letters.

    Normalised, Sorani's suffixes look like Persian and Arabic word endings (Persian باریک
    "narrow" is بار + ێک once ێ is folded to ي), and its letters are what tells them apart; no
    Arabic or Persian word is written with ە ێ ۆ ڕ ڵ.
    """
    found = [variant for variant in scan.by_variant if variant in sorani]
    if not found:
        return
    anywhere = sorani_written(scan.original)
    for variant in found:
        for begin in list(scan.by_variant[variant]):
            if not anywhere or not sorani_written(scan.original_word(begin)):
                scan.drop(variant, begin)

"""The compiled matcher: scans an item once, then evaluates only the watchlists it may satisfy."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

import ahocorasick_rs

from service.match.entities import SkeletonIndex, find_names, find_surname, surname_of
from service.match.evaluate import Node, Witness, evaluate
from service.match.scan import FieldScan, scan_field
from service.models import FIELDS, Hit, Item, Match
from service.text.normalise import normalise
from service.text.tokenise import ARABIC

_HAS_SCRIPT = {ARABIC: re.compile("[\u0620-\u06ff]"), "L": re.compile("[^\\W\\d_\u0600-\u06ff]")}


@dataclass(frozen=True, slots=True)
class Atom:
    """One term or reference: alternatives are sequences of slots (a slot is a set of variants)."""

    label: str
    alternatives: tuple[tuple[int, ...], ...]
    entity: str | None = None
    surname: bool = False


@dataclass(frozen=True, slots=True)
class CompiledWatchlist:
    name: str
    tree: Node
    feeds: tuple[str, ...]
    languages: frozenset[str]
    min_score: float | None
    weights: tuple[tuple[int, float], ...]  # positive atoms and their weights
    entities: tuple[int, ...]  # positive entity atoms, in query order


@dataclass(frozen=True, slots=True)
class Tables:
    """Everything the matcher reads while matching (built once, shared, never mutated)."""

    automaton: ahocorasick_rs.AhoCorasick | None
    rules: tuple[tuple[tuple[int, int], ...], ...]
    slots: tuple[frozenset[int], ...]
    atoms: tuple[Atom, ...]
    triggers: Mapping[int, tuple[int, ...]]  # variant → watchlists that may fire on it
    name_watchlists: frozenset[int]  # watchlists with an entity that has cross-script keys
    skeletons: tuple[SkeletonIndex, ...]
    watchlists: tuple[CompiledWatchlist, ...]


def language_code(code: str) -> str:
    """ar-IQ → ar: watchlist language filters compare primary subtags."""
    return code.strip().lower().split("-")[0].split("_")[0]


@dataclass(frozen=True, slots=True)
class Matcher:
    """All watchlists compiled together. Immutable: a reload builds a new Matcher and swaps it."""

    watchlists: tuple[str, ...]
    tables: Tables

    def match(self, item: Item) -> tuple[Match, ...]:
        """Every watchlist that fires on `item`, in watchlist order, with its hits and entities.

        A watchlist applies when a `feeds` glob matches item.feed and, if it lists `languages`,
        when item.language is one of them or unknown (None).
        """
        tables = self.tables
        scans = [_scan(tables, index, item.field_text(name)) for index, name in enumerate(FIELDS)]
        state = _ItemState(tables, scans)
        matches = []
        for number in sorted(_candidates(tables, scans)):
            watchlist = tables.watchlists[number]
            if _admits(watchlist, item):
                found = state.match(watchlist)
                if found is not None:
                    matches.append(found)
        return tuple(matches)


def _scan(tables: Tables, index: int, text: str) -> FieldScan:
    if not text or tables.automaton is None:
        return FieldScan(index, text, normalise(text))
    return scan_field(index, text, normalise(text), tables.automaton, tables.rules)


NameHits = dict[int, list[tuple[int, int, int, str]]]  # atom → (field, start, end, last word)


def _find_names(indexes: Sequence[SkeletonIndex], scans: Sequence[FieldScan]) -> NameHits:
    names: NameHits = {}
    for index in indexes:
        script = _HAS_SCRIPT[index.text_script]
        for scan in scans:
            if scan.norm and script.search(scan.norm):
                for found in find_names(scan.norm, index):
                    entry = (scan.index, found.start, found.end, found.last_word)
                    names.setdefault(found.atom, []).append(entry)
    return names


def _candidates(tables: Tables, scans: Sequence[FieldScan]) -> set[int]:
    """Watchlists with a term in the text, plus those that may fire on a cross-script name."""
    candidates = set(tables.name_watchlists)
    for scan in scans:
        for variant in scan.by_variant:
            candidates.update(tables.triggers.get(variant, ()))
    return candidates


def _admits(watchlist: CompiledWatchlist, item: Item) -> bool:
    if watchlist.feeds and not any(fnmatchcase(item.feed, glob) for glob in watchlist.feeds):
        return False
    if watchlist.languages and item.language:
        return language_code(item.language) in watchlist.languages
    return True


def _sequence(
    scan: FieldScan, alternative: tuple[int, ...], slots: Sequence[frozenset[int]]
) -> list[tuple[int, int, int]]:
    """(start, end, start of last word) of each run of tokens matching the slots in order."""
    first = slots[alternative[0]]
    if first.isdisjoint(scan.by_variant):
        return []
    starts: set[int] = set()
    for variant in first:
        starts.update(scan.by_variant.get(variant, ()))
    found = []
    for start in sorted(starts):
        last, end = start, scan.ends[start]
        for slot in alternative[1:]:
            following = scan.next_token(end, last)
            if following < 0 or slots[slot].isdisjoint(scan.at.get(following, ())):
                break
            last, end = following, scan.ends[following]
        else:
            found.append((start, end, last))
    return found


class _ItemState:
    """Per-item memo of atom occurrences, shared by all watchlists evaluated on the item."""

    def __init__(self, tables: Tables, scans: Sequence[FieldScan]) -> None:
        self.tables = tables
        self.scans = scans
        self.memo: dict[int, list[Witness]] = {}
        self._names: NameHits | None = None

    @property
    def names(self) -> NameHits:
        """Cross-script name finds, searched for on first need (AND stops at a false child)."""
        if self._names is None:
            self._names = _find_names(self.tables.skeletons, self.scans)
        return self._names

    def occurrences(self, atom_id: int) -> list[Witness]:
        found = self.memo.get(atom_id)
        if found is None:
            found = self.memo[atom_id] = self._occurrences(atom_id)
        return found

    def _occurrences(self, atom_id: int) -> list[Witness]:
        atom = self.tables.atoms[atom_id]
        spans: set[tuple[int, int, int]] = set()
        full_names: set[str] = set()
        live = [scan for scan in self.scans if scan.by_variant]
        for alternative in atom.alternatives:
            for scan in live:
                for start, end, last in _sequence(scan, alternative, self.tables.slots):
                    spans.add((scan.index, start, end))
                    if last > start:
                        full_names.add(scan.norm[last:end])
        for field, start, end, last_word in self.names.get(atom_id, ()):
            spans.add((field, start, end))
            full_names.add(last_word)
        if atom.surname and full_names:
            spans.update(self._surnames(full_names))
        return [(field, start, end, atom_id) for field, start, end in sorted(spans)]

    def _surnames(self, words: set[str]) -> set[tuple[int, int, int]]:
        """Once a full name was found, its last word alone counts in the same article."""
        spans: set[tuple[int, int, int]] = set()
        for surname in filter(None, map(surname_of, words)):
            for scan in self.scans:
                spans.update((scan.index, s, e) for s, e in find_surname(scan.norm, surname))
        return spans

    def match(self, watchlist: CompiledWatchlist) -> Match | None:
        witnesses = evaluate(watchlist.tree, self.occurrences, self.scans)
        if witnesses is None:
            return None
        score = sum(weight for atom, weight in watchlist.weights if self.occurrences(atom))
        if watchlist.min_score is not None and score < watchlist.min_score:
            return None
        entities = tuple(str(self.tables.atoms[a].entity) for a in watchlist.entities if self.occurrences(a))
        return Match(watchlist.name, self._hits(witnesses), entities, float(score))

    def _hits(self, witnesses: list[Witness]) -> tuple[Hit, ...]:
        """Hits in field and text order; a hit inside a longer hit of the same term is dropped."""
        hits: dict[tuple[int, int, int, str], Hit] = {}
        for field, start, end, atom in set(witnesses):
            scan = self.scans[field]
            first, last = scan.original_span(start, end)
            label = self.tables.atoms[atom].label
            hit = Hit(label, scan.original[first:last], FIELDS[field], first, last)
            hits[(field, first, -last, label)] = hit
        kept: list[Hit] = []
        reach: dict[tuple[str, str], int] = {}  # (field, term) → furthest end kept so far
        for key in sorted(hits):
            hit = hits[key]
            if hit.end > reach.get((hit.field, hit.term), -1):
                reach[(hit.field, hit.term)] = hit.end
                kept.append(hit)
        return tuple(kept)

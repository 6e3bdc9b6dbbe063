"""The compiled matcher: scans an item once, then evaluates only the watchlists it may satisfy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import NamedTuple

from service.match.entities import (
    SkeletonIndex,
    find_names,
    find_names_from,
    find_surname,
    surname_of,
)
from service.match.evaluate import Node, Witness, evaluate
from service.match.scan import FieldScan, Scanner
from service.models import FIELDS, Hit, Item, Match
from service.text.language import language_code
from service.text.normalise import normalise, normalise_marked


class Atom(NamedTuple):
    """One term or reference: alternatives are sequences of slots (a slot is a set of variants).

    A named tuple: a compile makes one per distinct term, and a tuple is built in C.
    """

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

    scanner: Scanner
    slots: tuple[frozenset[int], ...]
    atoms: tuple[Atom, ...]
    triggers: Mapping[int, tuple[int, ...]]  # variant → watchlists that may fire on it
    name_watchlists: frozenset[int]  # watchlists with an entity that has cross-script keys
    skeletons: tuple[SkeletonIndex, ...]
    named_atoms: frozenset[int]  # the entity atoms those keys stand for
    atom_starts: tuple[frozenset[int], ...]  # per atom: the variants that can start it
    starting: Mapping[int, tuple[int, ...]]  # variant → the atoms it can start
    # Per atom: its variants when every alternative is a single word and it has no cross-script
    # name (then its occurrences are just the tokens those variants hit), else None.
    single_words: tuple[frozenset[int] | None, ...]
    watchlists: tuple[CompiledWatchlist, ...]


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
        state = item_state(tables, item)
        matches = []
        feed, language = item.feed, item.language
        for number in sorted(_candidates(tables, state.present, state.may_name)):
            watchlist = tables.watchlists[number]
            if _admits(watchlist, feed, language):
                found = state.match(watchlist)
                if found is not None:
                    matches.append(found)
        return tuple(matches)


def item_state(tables: Tables, item: Item) -> ItemState:
    """The item scanned as `Matcher.match` scans it, with an empty occurrence memo."""
    return ItemState(
        tables, [_scan(tables, index, item.field_text(name)) for index, name in enumerate(FIELDS)]
    )


def _scan(tables: Tables, index: int, text: str) -> FieldScan:
    if not text:
        return FieldScan(index, text, text)
    norm, moved = normalise_marked(text)
    return tables.scanner.scan(index, text, norm, moved)


def match_directly(matcher: Matcher, item: Item) -> tuple[Match, ...]:
    """`Matcher.match` without its shortcuts: the reference the tests hold it to.

    Each field is scanned without the chunk memo, names are sought over every word, and every
    atom is looked up and every watchlist evaluated, where `match` skips those whose words are
    absent.
    """
    tables = matcher.tables
    scans = [
        tables.scanner.scan_directly(index, text, normalise(text))
        for index, text in enumerate(map(item.field_text, FIELDS))
    ]
    state = ItemState(tables, scans)
    state.possible = set(range(len(tables.atoms)))
    admitted = [w for w in tables.watchlists if _admits(w, item.feed, item.language)]
    return tuple(found for found in map(state.match, admitted) if found is not None)


NameHits = dict[int, list[tuple[int, int, int, str]]]  # atom → (field, start, end, last word)


def _find_names(indexes: Sequence[SkeletonIndex], scans: Sequence[FieldScan]) -> NameHits:
    names: NameHits = {}
    for number, index in enumerate(indexes):
        for scan in scans:
            if scan.starters is None:  # the field was not split into chunks: search all of it
                found = find_names(scan.norm, index) if scan.norm else []
            else:
                found = find_names_from(scan.norm, index, scan.starters[number])
            for name in found:
                entry = (scan.index, name.start, name.end, name.last_word)
                names.setdefault(name.atom, []).append(entry)
    return names


def _candidates(tables: Tables, present: set[int], may_name: bool) -> set[int]:
    """Watchlists with a term in the text, plus those that may fire on a cross-script name."""
    candidates = set(tables.name_watchlists) if may_name else set()
    triggers = tables.triggers
    for variant in present:
        found = triggers.get(variant)
        if found:
            candidates.update(found)
    return candidates


def _admits(watchlist: CompiledWatchlist, feed: str, language: str | None) -> bool:
    return admits_feed(watchlist, feed) is not None and admits_language(watchlist, language)


def admits_feed(watchlist: CompiledWatchlist, feed: str) -> str | None:
    """The first `feeds` glob that matches `feed`; "" when the watchlist lists none; else None."""
    for glob in watchlist.feeds:
        if fnmatchcase(feed, glob):
            return glob
    return None if watchlist.feeds else ""


def admits_language(watchlist: CompiledWatchlist, language: str | None) -> bool:
    """True unless the watchlist lists `languages` and the item's known language is not one."""
    if watchlist.languages and language:
        return language_code(language) in watchlist.languages
    return True


_NO_VARIANTS: list[int] = []


def _sequence(
    scan: FieldScan, alternative: tuple[int, ...], slots: Sequence[frozenset[int]]
) -> list[tuple[int, int, int]]:
    """(start, end, start of last word) of each run of tokens matching the slots in order."""
    for slot in alternative:
        if slots[slot].isdisjoint(scan.by_variant):
            return []  # a word of the phrase occurs nowhere in the field
    first = slots[alternative[0]]
    starts: set[int] = set()
    for variant in first:
        starts.update(scan.by_variant.get(variant, ()))
    found = []
    for start in sorted(starts):
        last, end = start, scan.ends[start]
        for slot in alternative[1:]:
            following = scan.next_token(end, last)
            if following < 0 or slots[slot].isdisjoint(scan.at.get(following, _NO_VARIANTS)):
                break
            last, end = following, scan.ends[following]
        else:
            found.append((start, end, last))
    return found


class ItemState:
    """Per-item memo of atom occurrences, shared by all watchlists evaluated on the item."""

    def __init__(self, tables: Tables, scans: Sequence[FieldScan]) -> None:
        self.tables = tables
        self.scans = scans
        self.live = [scan for scan in scans if scan.by_variant]
        self.present: set[int] = set()  # every variant found in some field
        for scan in self.live:
            self.present.update(scan.by_variant)
        # A cross-script name starts on a word the scan marked: without one in any field (or a
        # field scanned without marking them), no name can be found.
        self.may_name = any(scan.starters is None or any(scan.starters) for scan in scans if scan.norm)
        # Atoms that may occur: one of their starting variants was found, or they may have a
        # cross-script name. Any other atom has no occurrence and is false without a lookup.
        self.possible: set[int] = set(tables.named_atoms) if self.may_name else set()
        starting = tables.starting
        for variant in self.present:
            atoms = starting.get(variant)
            if atoms:
                self.possible.update(atoms)
        self.memo: dict[int, list[Witness]] = {}
        self.spans: dict[int, tuple[int, int]] = {}  # (field, start, end) → span in the original
        self._names: NameHits | None = None

    @property
    def names(self) -> NameHits:
        """Cross-script name finds, searched for on first need (AND stops at a false child)."""
        if self._names is None:
            self._names = _find_names(self.tables.skeletons, self.scans)
        return self._names

    def occurrences(self, atom_id: int) -> list[Witness]:
        """Where the atom occurs in the item, in order (memoised: watchlists share atoms)."""
        found = self.memo.get(atom_id)
        if found is not None:
            return found
        variants = self.tables.single_words[atom_id]
        if variants is None:
            found = self._occurrences(atom_id)
        elif variants.isdisjoint(self.present):
            found = []
        else:  # a term of single words (most are): its spans are the tokens its variants hit
            found = self._tokens(atom_id, variants.intersection(self.present))
        self.memo[atom_id] = found
        return found

    def _tokens(self, atom_id: int, variants: frozenset[int]) -> list[Witness]:
        """The tokens that `variants` (all found in the item) hit, as witnesses of the atom."""
        if len(variants) == 1:  # the usual case: one form of the term occurs
            (variant,) = variants
            found: list[Witness] = []
            for scan in self.live:
                starts = scan.by_variant.get(variant)
                if starts:  # a variant is recorded once per token: no repeats
                    ends, field = scan.ends, scan.index
                    found.extend([(field, start, ends[start], atom_id) for start in starts])
            found.sort()
            return found
        spans: set[tuple[int, int, int]] = set()  # two forms may hit one token
        for scan in self.live:
            by_variant, ends, field = scan.by_variant, scan.ends, scan.index
            for variant in variants:
                starts = by_variant.get(variant)
                if starts:
                    spans.update([(field, start, ends[start]) for start in starts])
        return [(field, start, end, atom_id) for field, start, end in sorted(spans)]

    def _occurrences(self, atom_id: int) -> list[Witness]:
        tables = self.tables
        named = self.may_name and atom_id in tables.named_atoms
        if not named and tables.atom_starts[atom_id].isdisjoint(self.present):
            return []  # none of its words occurs, and it has no cross-script name to look for
        atom = tables.atoms[atom_id]
        slots = tables.slots
        spans: set[tuple[int, int, int]] = set()
        full_names: set[str] = set()
        for alternative in atom.alternatives:
            first = slots[alternative[0]]
            if first.isdisjoint(self.present):
                continue
            if len(alternative) == 1:  # one word, the usual case: its tokens are the spans
                for scan in self.live:
                    by_variant, ends, field = scan.by_variant, scan.ends, scan.index
                    for variant in first.intersection(by_variant):
                        spans.update([(field, start, ends[start]) for start in by_variant[variant]])
                continue
            for scan in self.live:
                for start, end, last in _sequence(scan, alternative, slots):
                    spans.add((scan.index, start, end))
                    if last > start:
                        full_names.add(scan.norm[last:end])
        for field, start, end, last_word in self.names.get(atom_id, ()) if named else ():
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
        possible = self.possible
        witnesses = evaluate(watchlist.tree, self.occurrences, self.scans, possible)
        if witnesses is None:
            return None
        occurrences = self.occurrences
        score = self.score(watchlist)
        if watchlist.min_score is not None and score < watchlist.min_score:
            return None
        entities = tuple(
            str(self.tables.atoms[a].entity) for a in watchlist.entities if a in possible and occurrences(a)
        )
        return Match(watchlist.name, self._hits(witnesses), entities, float(score))

    def score(self, watchlist: CompiledWatchlist) -> float:
        """The weights of the watchlist's distinct positive terms found in the item, summed."""
        possible, occurrences = self.possible, self.occurrences
        return sum(weight for atom, weight in watchlist.weights if atom in possible and occurrences(atom))

    def _hits(self, witnesses: list[Witness]) -> tuple[Hit, ...]:
        """Hits in field and text order; a hit inside a longer hit of the same term is dropped."""
        atoms = self.tables.atoms
        spans = self.spans
        entries: list[tuple[int, int, int, str]] = []
        for field, start, end, atom in witnesses:  # repeats are dropped below, with inner hits
            key = (((start << 32) | end) << 2) | field  # fields: FIELDS, fewer than four
            span = spans.get(key)
            if span is None:
                span = spans[key] = self.scans[field].original_span(start, end)
            entries.append((field, span[0], -span[1], atoms[atom].label))
        entries.sort()
        kept: list[Hit] = []
        reach: dict[str, int] = {}  # term → furthest end kept so far in the current field
        current = -1
        for field, first, minus_last, label in entries:
            if field != current:
                current, reach = field, {}
            if -minus_last > reach.get(label, -1):
                reach[label] = -minus_last
                text = self.scans[field].original[first:-minus_last]
                # tuple.__new__ builds the named tuple in C, without its Python-level __new__
                kept.append(tuple.__new__(Hit, (label, text, FIELDS[field], first, -minus_last)))
        return tuple(kept)

"""Compile every watchlist into one automaton and evaluate only the watchlists whose terms occur.

Compilation interns everything: a key string is one automaton pattern however many watchlists use
it, a term or @reference is one atom, so matching cost depends on the text and its hits, not on
the number of watchlists. A Matcher never changes after it is built; a reload builds a new one.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter

from service.errors import QuerySyntaxError
from service.match.entities import build_indexes, indexed_atoms
from service.match.evaluate import Node
from service.match.matcher import Atom, CompiledWatchlist, Matcher, Tables
from service.match.query import And, Near, Not, Or, Query, Term, parse_query
from service.match.scan import Scanner
from service.match.terms import ENTITY_MODE, KEYWORD_MODE, Variant, token_variants
from service.models import EntityDef, EntityKind, Vocabulary, WatchlistDef
from service.text.kurdish import term_dialect
from service.text.language import language_code
from service.text.normalise import normalise
from service.text.plurals import plural_index
from service.text.tokenise import ARABIC, LETTERS, token_kinds

_SURNAME_KINDS = (EntityKind.PERSON, EntityKind.OTHER)
# Arabic letters only (no marks, digits or punctuation): one ARABIC token, as token_kinds says.
ARABIC_LETTERS = "\u0621-\u063f\u0641-\u064a"
_ARABIC_WORD = re.compile(f"[{ARABIC_LETTERS}]+")


class _Builder:
    """Interns keys, variants, slots and atoms while the watchlists are lowered."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary
        self.plurals = plural_index(vocabulary.plurals)
        self.entities = _entity_table(vocabulary.entities)
        self.concepts = {normalise(name): name for name in vocabulary.concepts}
        self.patterns: dict[str, int] = {}
        self.rules: list[list[tuple[int, int]]] = []  # per pattern: (variant, rule), each once
        self.variants: dict[Variant, int] = {}
        self.slots: dict[frozenset[int], int] = {}
        self.slot_list: list[frozenset[int]] = []
        self.atoms: list[Atom] = []
        self.atom_ids: dict[tuple[str, str], int] = {}
        # Variant → atoms it can start, and atom → watchlists where it is positive: lists without
        # repeats (an entry is only ever added again right after itself), cheaper than sets.
        self.first_slot_atoms: dict[int, list[int]] = {}
        self.atom_watchlists: dict[int, list[int]] = {}
        self.names: list[tuple[int, str]] = []
        self.people: set[int] = set()  # entity atoms of people (and others): see build_indexes

    # -- interning

    def variant(self, variant: Variant) -> int:
        found = self.variants.get(variant)
        if found is None:
            found = self.variants[variant] = len(self.variants)
            pattern = self.patterns.setdefault(variant[0], len(self.patterns))
            if pattern == len(self.rules):
                self.rules.append([])
            self.rules[pattern].append((found, variant[1]))
        return found

    def slot(self, variants: frozenset[Variant]) -> int:
        interned = self.variants
        ids = frozenset([interned[v] if v in interned else self.variant(v) for v in variants])
        found = self.slots.get(ids)
        if found is None:
            found = self.slots[ids] = len(self.slot_list)
            self.slot_list.append(ids)
        return found

    def sequence(self, text: str, mode: str) -> tuple[int, ...] | None:
        """Slots for the words of `text`; a trailing * makes the last one a prefix."""
        prefix = text.endswith("*") and mode == KEYWORD_MODE
        return self.words(text[:-1] if prefix else text, mode, prefix)

    def words(self, body: str, mode: str, prefix: bool) -> tuple[int, ...] | None:
        """Slots for the words of `body`, the last one a prefix if `prefix`."""
        folded = normalise(body)
        # One Latin or Arabic word, the usual term, needs no regex.
        if folded.isascii() and folded.isalpha():
            tokens = [(folded, LETTERS)]
        elif _ARABIC_WORD.fullmatch(folded):
            tokens = [(folded, ARABIC)]
        else:
            tokens = token_kinds(folded)
        if not tokens:
            return None
        last = len(tokens) - 1
        plurals = self.plurals
        dialect = term_dialect(body)  # Sorani or Kurmanji: the letters are gone once normalised
        slots: list[frozenset[Variant]] = [
            token_variants(word, kind, mode, plurals, prefix=prefix and i == last, dialect=dialect)
            for i, (word, kind) in enumerate(tokens)
        ]
        for spelling in _hamza_spellings(body):
            others = token_kinds(normalise(spelling))
            if len(others) == len(tokens):
                for i, (word, kind) in enumerate(others):
                    slots[i] |= token_variants(
                        word, kind, mode, plurals, prefix=prefix and i == last, dialect=dialect
                    )
        return tuple(self.slot(variants) for variants in slots)

    def add_atom(self, key: tuple[str, str], atom: Atom) -> int:
        ident = self.atom_ids[key] = len(self.atoms)
        self.atoms.append(atom)
        starting = self.first_slot_atoms
        for alternative in atom.alternatives:
            for variant in self.slot_list[alternative[0]]:
                atoms = starting.get(variant)
                if atoms is None:
                    starting[variant] = [ident]
                elif atoms[-1] != ident:
                    atoms.append(ident)
        return ident

    # -- atoms

    def term_atom(self, term: Term, watchlist: str) -> int:
        """The atom for one query term, built on first use and shared afterwards."""
        if term.kind == "ref":
            return self.reference_atom(term, watchlist)
        key = (term.kind, term.text)
        found = self.atom_ids.get(key)
        if found is None:
            if term.kind == "prefix":
                sequence = self.words(term.text, KEYWORD_MODE, True)
            else:  # a phrase may end in * too
                sequence = self.sequence(term.text, KEYWORD_MODE)
            found = self.add_atom(key, Atom(term.label, (sequence,) if sequence else ()))
        return found

    def resolve(self, name: str) -> tuple[str | None, EntityDef | None]:
        """(concept, entity) that @name names: exact names first, then normalised ones."""
        concept = name if name in self.vocabulary.concepts else None
        entity = next((e for e in self.vocabulary.entities if e.name == name), None)
        if concept is None and entity is None:
            wanted = normalise(name)
            concept, entity = self.concepts.get(wanted), self.entities.get(wanted)
        return concept, entity

    def reference_atom(self, term: Term, watchlist: str) -> int:
        concept, entity = self.resolve(term.text)
        where = f"watchlist {watchlist!r}: @{term.text}"
        if concept is not None and entity is not None:
            raise QuerySyntaxError(f"{where} is ambiguous: both a concept and an entity", term.column)
        if entity is not None:
            key = ("entity", entity.name)
            if key not in self.atom_ids:
                ident = self.add_atom(key, self.entity(term, entity))
                self.names.extend((ident, name) for name in (entity.name, *entity.aliases))
                if entity.kind in _SURNAME_KINDS:
                    self.people.add(ident)
            return self.atom_ids[key]
        if concept is None:
            raise QuerySyntaxError(f"{where} is neither a concept nor an entity", term.column)
        key = ("concept", concept)
        if key not in self.atom_ids:
            self.add_atom(key, self.concept(term, concept))
        return self.atom_ids[key]

    def concept(self, term: Term, name: str) -> Atom:
        sequences = [self.sequence(text, KEYWORD_MODE) for text in self.vocabulary.concepts[name]]
        return Atom(term.label, tuple(s for s in sequences if s))

    def entity(self, term: Term, entity: EntityDef) -> Atom:
        names = (entity.name, *entity.aliases)
        sequences = [self.sequence(name.rstrip("*"), ENTITY_MODE) for name in names]
        surname = entity.kind in _SURNAME_KINDS
        return Atom(term.label, tuple(s for s in sequences if s), entity.name, surname)


def _hamza_spellings(text: str) -> set[str]:
    """The other hamza seat: مسؤول is also written مسئول. Added to terms only, which is cheaper
    and safer than folding both seats to one letter in every article."""
    if "ؤ" not in text and "ئ" not in text:
        return set()
    return {text.replace("ؤ", "ئ"), text.replace("ئ", "ؤ")} - {text}


def _entity_table(entities: Sequence[EntityDef]) -> dict[str, EntityDef]:
    """Entities by normalised name (the first definition of a name wins)."""
    table: dict[str, EntityDef] = {}
    for entity in entities:
        table.setdefault(normalise(entity.name), entity)
    return table


class _Lowering:
    """Lowers one watchlist's query to its evaluation form (atoms for terms) in a single pass.

    Atoms are made in the order the terms are written (so their numbers do not depend on the
    query's shape), and each term not under a NOT is recorded as positive: it triggers the
    watchlist and its weight counts toward the score.
    """

    def __init__(self, builder: _Builder, number: int, name: str) -> None:
        self.builder = builder
        self.number = number
        self.name = name
        self.weights: dict[int, float] = {}

    def lower(self, query: Query, positive: bool = True) -> Node:
        if isinstance(query, Term):
            atom = self.builder.term_atom(query, self.name)
            if positive:
                self.weights[atom] = max(self.weights.get(atom, 0.0), query.weight)
                numbers = self.builder.atom_watchlists.get(atom)
                if numbers is None:
                    self.builder.atom_watchlists[atom] = [self.number]
                elif numbers[-1] != self.number:
                    numbers.append(self.number)
            return atom
        if isinstance(query, Not):
            return Not(self.lower(query.child, False), query.column)
        if isinstance(query, Near):
            return Near(self.lower(query.left, positive), self.lower(query.right, positive), query.distance)
        children = tuple([self.lower(child, positive) for child in query.children])
        return And(children) if isinstance(query, And) else Or(children)


def _compile_watchlist(builder: _Builder, number: int, watchlist: WatchlistDef) -> CompiledWatchlist:
    lowering = _Lowering(builder, number, watchlist.name)
    tree = lowering.lower(parse_query(watchlist.query))
    weights = lowering.weights
    entities = tuple(a for a in weights if builder.atoms[a].entity is not None)
    languages = frozenset(language_code(code) for code in watchlist.languages)
    return CompiledWatchlist(
        watchlist.name,
        tree,
        tuple(watchlist.feeds),
        languages,
        watchlist.min_score,
        tuple(weights.items()),
        entities,
    )


def _triggers(builder: _Builder) -> dict[int, tuple[int, ...]]:
    """Variant → the watchlists in which it can start a positive term."""
    triggers: dict[int, tuple[int, ...]] = {}
    watchlists_of = builder.atom_watchlists
    nothing: list[int] = []
    shared: dict[tuple[int, ...], tuple[int, ...]] = {}
    for variant, atoms in builder.first_slot_atoms.items():
        if len(atoms) == 1:  # the usual case: a variant of one term
            (atom,) = atoms
            numbers = watchlists_of.get(atom, nothing)
        else:
            numbers = sorted(set().union(*(watchlists_of.get(atom, nothing) for atom in atoms)))
        if numbers:
            found = tuple(numbers) if len(numbers) == 1 else tuple(sorted(numbers))
            triggers[variant] = shared.setdefault(found, found)  # one tuple per distinct set
    return triggers


def _atom_variants(
    builder: _Builder, named: set[int]
) -> tuple[tuple[frozenset[int], ...], tuple[frozenset[int] | None, ...]]:
    """Per atom: the variants that can start it, and those variants again when it is made of
    single words only (no phrase, no cross-script name), else None."""
    slot_list = builder.slot_list
    starts: list[frozenset[int]] = []
    single_words: list[frozenset[int] | None] = []
    for number, atom in enumerate(builder.atoms):
        alternatives = atom.alternatives
        if len(alternatives) == 1:
            first = slot_list[alternatives[0][0]]  # shared, not copied: most atoms are one term
            single = len(alternatives[0]) == 1
        else:
            first = frozenset().union(*(slot_list[a[0]] for a in alternatives))
            single = all(len(a) == 1 for a in alternatives)
        starts.append(first)
        single_words.append(first if single and number not in named else None)
    return tuple(starts), tuple(single_words)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector, then restore it as it was.

    A compile allocates a few containers per term and frees almost none, which is what makes the
    collector run its full passes, each over everything built so far: a third of the time at
    100,000 terms. The build makes no cycles that need collecting early.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def compile_matcher(watchlists: Sequence[WatchlistDef], vocabulary: Vocabulary) -> Matcher:
    """Compile every watchlist into one Matcher; QuerySyntaxError names the bad watchlist.

    Scoring, in the style of the Europe Media Monitor's category definitions: each positive term
    (one not under NOT) weighs 1 unless written `term^w`. When a watchlist sets `min_score`, it
    fires only if its boolean query holds AND the weights of the distinct positive terms found in
    the item add up to at least `min_score`. Match.score always carries that sum.
    """
    with _collector_paused():
        return _compile(watchlists, vocabulary)


def _compile(watchlists: Sequence[WatchlistDef], vocabulary: Vocabulary) -> Matcher:
    builder = _Builder(vocabulary)
    compiled = tuple(_compile_watchlist(builder, n, w) for n, w in enumerate(watchlists))
    # Ahocorasick rules checked PREFIX-last so the scanner knows how far a token may run on.
    rules = tuple(tuple(r) if len(r) == 1 else tuple(sorted(r, key=itemgetter(1))) for r in builder.rules)
    skeletons = build_indexes(builder.names, builder.people)
    named = indexed_atoms(skeletons)
    name_watchlists = frozenset(n for atom in named for n in builder.atom_watchlists.get(atom, ()))
    starts, single_words = _atom_variants(builder, named)
    tables = Tables(
        scanner=Scanner(list(builder.patterns), rules, skeletons),  # dict order = pattern numbers
        slots=tuple(builder.slot_list),
        atoms=tuple(builder.atoms),
        triggers=_triggers(builder),
        name_watchlists=name_watchlists,
        skeletons=skeletons,
        named_atoms=frozenset(named),
        atom_starts=starts,
        starting={variant: tuple(atoms) for variant, atoms in builder.first_slot_atoms.items()},
        single_words=single_words,
        watchlists=compiled,
    )
    return Matcher(tuple(w.name for w in watchlists), tables)

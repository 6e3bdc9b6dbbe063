"""Why a watchlist stayed silent on an item: its clauses decided one by one, said in the user's terms.

A watchlist's clauses, in the order the matcher tries them: its `feeds`, its `languages`, each part
of its query (the parts of a top-level AND, else the whole query), then its `min_score`. Each clause
is decided by the matcher's own evaluation over the item's occurrences, so an explanation says
"fired" exactly when `Matcher.match` fires; only the words around the verdict are new. Only
`newsalert match` asks for this, so it may look further than matching does (distances of pairs that
are too far apart, the word numbers of occurrences).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from service.match.evaluate import Node, Witness, evaluate, words_between
from service.match.matcher import (
    CompiledWatchlist,
    ItemState,
    Matcher,
    admits_feed,
    admits_language,
    item_state,
)
from service.match.query import And, Near, Not, Or, render
from service.match.scan import FieldScan
from service.models import FIELDS, Item
from service.text.language import language_code
from service.text.tokenise import count_tokens

_FAR = 1 << 30  # a word count no text reaches: count every word


@dataclass(frozen=True, slots=True)
class Clause:
    """One condition of a watchlist and what the item made of it."""

    held: bool
    text: str


@dataclass(frozen=True, slots=True)
class Explanation:
    """A watchlist's clauses on one item, in order, up to and including the first that failed."""

    watchlist: str
    clauses: tuple[Clause, ...]
    fired: bool


def explain_item(matcher: Matcher, item: Item) -> tuple[Explanation, ...]:
    """Every watchlist of `matcher` on `item`, in watchlist order, fired or not."""
    state = item_state(matcher.tables, item)
    return tuple(_explain(state, watchlist, item) for watchlist in matcher.tables.watchlists)


def _explain(state: ItemState, watchlist: CompiledWatchlist, item: Item) -> Explanation:
    clauses: list[Clause] = []
    for clause in _clauses(state, watchlist, item):
        clauses.append(clause)
        if not clause.held:
            return Explanation(watchlist.name, tuple(clauses), False)
    return Explanation(watchlist.name, tuple(clauses), True)


def _clauses(state: ItemState, watchlist: CompiledWatchlist, item: Item) -> Iterator[Clause]:
    """The clauses in the matcher's order, each decided only once those before it held."""
    if watchlist.feeds and watchlist.feeds != ("*",):  # every feed matches "*": nothing to say
        yield _feeds_clause(watchlist, item.feed)
    if watchlist.languages:
        yield _languages_clause(watchlist, item.language)
    tree = watchlist.tree
    for part in tree.children if isinstance(tree, And) else (tree,):
        yield _Describer(state).clause(part)
    if watchlist.min_score is not None:
        yield _score_clause(state, watchlist, watchlist.min_score)


def _feeds_clause(watchlist: CompiledWatchlist, feed: str) -> Clause:
    glob = admits_feed(watchlist, feed)
    if glob is None:
        globs = ", ".join(f'"{g}"' for g in watchlist.feeds)
        return Clause(False, f"feeds: item's feed \"{feed}\" is not in the watchlist's feeds ({globs})")
    return Clause(True, f'feeds: item\'s feed "{feed}" matches "{glob}"')


def _languages_clause(watchlist: CompiledWatchlist, language: str | None) -> Clause:
    wanted = ", ".join(sorted(watchlist.languages))
    held = admits_language(watchlist, language)
    if not language:
        return Clause(held, f"languages: item's language is unknown, so it may be {wanted}")
    return Clause(held, f'languages: item is "{language_code(language)}", watchlist wants {wanted}')


def _score_clause(state: ItemState, watchlist: CompiledWatchlist, needed: float) -> Clause:
    score = state.score(watchlist)
    atoms = state.tables.atoms
    found = [
        f"{atoms[atom].label} {weight:g}"
        for atom, weight in watchlist.weights
        if atom in state.possible and state.occurrences(atom)
    ]
    terms = f" ({', '.join(found)})" if found else " (no positive term found)"
    return Clause(score >= needed, f"min_score: {score:g} of {needed:g}{terms}")


class _Describer:
    """Decides query clauses with `evaluate` and words what it found and where."""

    def __init__(self, state: ItemState) -> None:
        self.state = state
        self.atoms = state.tables.atoms

    def holds(self, node: Node) -> list[Witness] | None:
        state = self.state
        return evaluate(node, state.occurrences, state.scans, state.possible)

    def label(self, node: Node) -> str:
        """The node as written; an operator in brackets, since it stands inside a sentence."""
        text = render(node, lambda atom: self.atoms[atom].label)
        return text if isinstance(node, (int, Not)) else f"({text})"

    def clause(self, node: Node) -> Clause:
        return Clause(self.holds(node) is not None, self.reason(node))

    def reason(self, node: Node) -> str:
        if isinstance(node, Not):
            return self.negation(node)
        if isinstance(node, Near):
            return self.near(node)
        if isinstance(node, And):
            return "AND: " + self.all_of(node.children)
        if isinstance(node, Or):
            return "OR: " + self.any_of(node.children)
        return self.part(node)

    def part(self, node: Node) -> str:
        """A node inside a clause: a term or group found or not, or a failed operator's reason."""
        found = self.holds(node)
        if found is not None and not isinstance(node, Not):
            return f"{self.label(node)} found ({self.where(found)})"
        if _terms_only(node):  # nothing of it was found: no more to say
            return f"{self.label(node)} not found"
        return f"[{self.reason(node)}]"

    def all_of(self, children: Sequence[Node]) -> str:
        """The parts of an AND up to the first that failed."""
        parts: list[str] = []
        for child in children:
            parts.append(self.part(child))
            if self.holds(child) is None:
                break
        return ", ".join(parts)

    def any_of(self, children: Sequence[Node]) -> str:
        """The first part of an OR that held, or every part when none did."""
        for child in children:
            if self.holds(child) is not None:
                return self.part(child)
        return ", ".join(self.part(child) for child in children)

    def negation(self, node: Not[int]) -> str:
        found = self.holds(node.child)
        head = f"NOT {self.label(node.child)}"
        if found is None:
            return f"{head}: not found"
        return f"{head}: found {self.where(found)}"

    def where(self, found: list[Witness]) -> str:
        """The first witness as it stands in the item, and how many more there are."""
        if not found:
            return "nothing"
        first = min(found)
        more = _separate(found) - 1
        return f"{self.surface(first)} in {FIELDS[first[0]]}" + (f" and {more} more" if more else "")

    def surface(self, witness: Witness) -> str:
        """The witness as it stands in the item, quoted."""
        scan = self.state.scans[witness[0]]
        first, last = scan.original_span(witness[1], witness[2])
        return f'"{scan.original[first:last]}"'

    def near(self, node: Near[int]) -> str:
        head = f"NEAR/{node.distance}: "
        left = self.holds(node.left)
        if not left:
            return head + self.part(node.left)
        right = self.holds(node.right)
        if not right:
            return f"{head}{self.label(node.left)} found ({self.where(left)}), {self.part(node.right)}"
        closest = _closest(left, right, self.state.scans)
        if closest is None:
            return f"{head}{self.label(node.left)} and {self.label(node.right)} are never in the same field"
        words, a, b = closest
        scans = self.state.scans
        within = "within" if words <= node.distance else "more than"
        return (
            f"{head}{self.label(node.left)} found at word {_word_number(scans, a)} ({self.surface(a)}), "
            f"{self.label(node.right)} at word {_word_number(scans, b)} ({self.surface(b)}) "
            f"({words} words between, {within} {node.distance}, in {FIELDS[a[0]]})"
        )


def _terms_only(node: Node) -> bool:
    """A term, or an OR of terms."""
    return isinstance(node, int) or (isinstance(node, Or) and all(isinstance(c, int) for c in node.children))


def _separate(found: list[Witness]) -> int:
    """How many occurrences there are, one inside another (a surname in its full name) counted once."""
    count, field, reach = 0, -1, -1
    for where, _start, minus_end in sorted({(w[0], w[1], -w[2]) for w in found}):
        if where != field:
            field, reach = where, -1
        if -minus_end > reach:
            count, reach = count + 1, -minus_end
    return count


def _word_number(scans: Sequence[FieldScan], witness: Witness) -> int:
    """The 1-based number, in its field, of the word where `witness` starts."""
    return count_tokens(scans[witness[0]].norm[: witness[1]], _FAR) + 1


def _closest(
    these: list[Witness], others: list[Witness], scans: Sequence[FieldScan]
) -> tuple[int, Witness, Witness] | None:
    """The pair (one of `these`, one of `others`) in one field with the fewest words between.

    As NEAR itself does, only the nearest other occurrence on each side of each one is tried.
    """
    ordered = sorted(set(others))
    keys = [(w[0], w[1]) for w in ordered]
    best: tuple[int, Witness, Witness] | None = None
    for a in sorted(these):
        at = bisect_left(keys, (a[0], a[1]))
        for b in ordered[max(0, at - 1) : at + 1]:
            if b[0] == a[0]:
                words = words_between(scans[a[0]].norm, a, b, _FAR)
                if best is None or words < best[0]:
                    best = (words, a, b)
    return best

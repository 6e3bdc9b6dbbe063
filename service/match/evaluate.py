"""Evaluate one compiled watchlist against one scanned item.

Every node evaluates to None (false) or to the list of occurrences that witness it, so a match can
show exactly which words made it fire: AND and OR pass on the witnesses of their true children,
NEAR only the pairs that are close enough, NOT none.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Container, Sequence
from typing import TypeAlias

from service.match.query import And, Near, Not, Or, Tree
from service.match.scan import FieldScan
from service.text.tokenise import count_tokens

# (field index, start, end, atom) in normalised coordinates of that field.
Witness = tuple[int, int, int, int]
Occurrences = Callable[[int], list[Witness]]
_NONE: list[Witness] = []


# The query's own tree, its terms replaced by atom numbers (service.match.compile).
Node: TypeAlias = Tree[int]


def evaluate(
    node: Node, occurrences: Occurrences, scans: Sequence[FieldScan], possible: Container[int] | None = None
) -> list[Witness] | None:
    """The witnesses of `node`, or None when it does not hold.

    `possible`, when given, holds every atom that may occur in the item (one of its starting
    words was found, or it has a cross-script name): the others are false without a lookup.
    """
    if isinstance(node, int):
        if possible is not None and node not in possible:
            return None
        found = occurrences(node)  # shared, so callers build new lists and never mutate one
        return found if found else None
    if isinstance(node, Or):
        # Most queries are ORs of terms: a term child is looked up without a recursive call.
        witnesses: list[Witness] = []
        true = False
        for child in node.children:
            if isinstance(child, int):
                atom = child
                found_leaf = _NONE if possible is not None and atom not in possible else occurrences(atom)
                if found_leaf:
                    true = True
                    witnesses.extend(found_leaf)
                continue
            found_child = evaluate(child, occurrences, scans, possible)
            if found_child is not None:
                true = True
                witnesses.extend(found_child)
        return witnesses if true else None
    if isinstance(node, And):
        witnesses = []
        for child in node.children:
            found_child = evaluate(child, occurrences, scans, possible)
            if found_child is None:
                return None
            witnesses.extend(found_child)
        return witnesses
    if isinstance(node, Not):
        return None if evaluate(node.child, occurrences, scans, possible) is not None else []
    return _near(node, occurrences, scans, possible)


def _near(
    node: Near[int], occurrences: Occurrences, scans: Sequence[FieldScan], possible: Container[int] | None
) -> list[Witness] | None:
    left = evaluate(node.left, occurrences, scans, possible)
    right = evaluate(node.right, occurrences, scans, possible) if left else None
    if not left or not right:
        return None
    distances: dict[tuple[Witness, Witness], int] = {}  # the relation is symmetric: count once
    kept = _close_to(left, right, node.distance, scans, distances)
    kept |= _close_to(right, left, node.distance, scans, distances)
    return sorted(kept) if kept else None


def _close_to(
    these: list[Witness],
    others: list[Witness],
    distance: int,
    scans: Sequence[FieldScan],
    distances: dict[tuple[Witness, Witness], int],
) -> set[Witness]:
    """Pairs (a, b) with a in `these` close enough to b in `others`.

    Only the nearest other occurrence on each side of `a` needs checking: if neither is close
    enough, none is. That keeps NEAR linear in the number of occurrences.
    """
    others = sorted(set(others))
    keys = [(w[0], w[1]) for w in others]
    kept: set[Witness] = set()
    for a in these:
        at = bisect_left(keys, (a[0], a[1]))
        for b in others[max(0, at - 1) : at + 1]:
            if b[0] != a[0]:
                continue
            pair = (a, b) if a <= b else (b, a)
            words = distances.get(pair)
            if words is None:
                words = distances[pair] = words_between(scans[a[0]].norm, a, b, distance)
            if words <= distance:
                kept.update((a, b))
    return kept


def words_between(norm: str, a: Witness, b: Witness, limit: int) -> int:
    """Words between two occurrences in one field (0 when adjacent), counted up to `limit` + 1."""
    if a[1] > b[1]:
        a, b = b, a
    if b[1] <= a[2]:
        return 0
    return count_tokens(norm[a[2] : b[1]], limit)

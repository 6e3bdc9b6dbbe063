"""The query parser: syntax, precedence, errors with columns, and a stable printed form."""

from __future__ import annotations

import sys

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import QuerySyntaxError
from service.match import parse_query, query_references, to_text
from service.match.query import (
    MAX_DEPTH,
    And,
    Near,
    Not,
    Or,
    Term,
    _depth,
    _first_negation,
    _has_words,
    _negation_in_near,
)
from service.text.normalise import normalise
from service.text.tokenise import has_tokens


def word(text: str, weight: float = 1.0) -> Term:
    return Term("word", text, weight)


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("rocket", word("rocket")),
        ("a b", And((word("a"), word("b")))),
        ("a AND b OR c", Or((And((word("a"), word("b"))), word("c")))),
        ("a OR b c", Or((word("a"), And((word("b"), word("c")))))),
        ("a -b", And((word("a"), Not(word("b"))))),
        ("a AND NOT b", And((word("a"), Not(word("b"))))),
        ("a NEAR/5 b c", And((Near(word("a"), word("b"), 5), word("c")))),
        ("a NEAR/5 b OR c", Or((Near(word("a"), word("b"), 5), word("c")))),
        ("(a OR b) NEAR/3 c", Near(Or((word("a"), word("b"))), word("c"), 3)),
        ("a and b", And((word("a"), word("and"), word("b")))),  # lowercase: a word
        ('"Baghdad airport"', Term("phrase", "Baghdad airport")),
        ("rock*", Term("prefix", "rock")),
        ("@rocket", Term("ref", "rocket")),
        ('@"Baghdad International Airport"', Term("ref", "Baghdad International Airport")),
        ("rocket^2", word("rocket", 2.0)),
        ('"air strike"^1.5', Term("phrase", "air strike", 1.5)),
        ("iran-backed", word("iran-backed")),
    ],
)
def test_parse_query_builds_the_tree(query: str, tree: object) -> None:
    assert parse_query(query) == tree


@pytest.mark.parametrize(
    ("query", "column", "reason"),
    [
        ("", 1, "empty query"),
        ("   ", 1, "empty query"),
        ("(a OR b", 1, "unclosed parenthesis"),
        ("a OR b)", 7, "unbalanced parenthesis"),
        ("a AND", 3, "AND needs a term after it"),
        ("OR a", 1, "OR needs a term before it"),
        ("a OR OR b", 3, "OR needs a term after it"),
        ('a "Baghdad', 3, "unterminated quote"),
        ("a NEAR b", 3, "NEAR needs a distance"),
        ("a NEAR/x b", 3, "NEAR needs a distance"),
        ("NOT a", 1, "NOT leaves nothing"),
        ("a OR NOT b", 6, "NOT leaves nothing"),
        ("a NEAR/3 -b", 10, "NEAR cannot take a NOT"),
        ("()", 1, "empty parentheses"),
        ("@", 1, "@ needs a concept or entity name"),
        ("ro*ck", 3, "* is only allowed at the end"),
        ("a^0", 2, "weight"),
        ("a ^2", 3, "^ must follow a term"),
        ("!!!", 1, "no letters or digits"),
        ("(" * 200 + "a" + ")" * 200, 101, "nested too deeply"),
    ],
)
def test_bad_queries_say_what_and_where(query: str, column: int, reason: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query)
    assert caught.value.column == column
    assert reason in caught.value.reason


def test_query_references_lists_every_reference_with_its_column() -> None:
    query = parse_query('@rocket AND (@"Baghdad International Airport" OR -@rocket x)')
    assert query_references(query) == [
        ("rocket", 1),
        ("Baghdad International Airport", 14),
        ("rocket", 51),
    ]


@pytest.mark.parametrize(
    "query",
    [
        '@rocket AND @"Baghdad International Airport"',
        "a b OR c -d",
        "(a OR b) NEAR/5 c NEAR/3 (d OR e)",
        'x NEAR/2 (y NEAR/1 z) "p q"^2 r*^0.5',
        "NOT NOT a AND b",
    ],
)
def test_printed_queries_parse_back_to_the_same_tree(query: str) -> None:
    tree = parse_query(query)
    assert parse_query(to_text(tree)) == tree


QUERY_PIECES = st.sampled_from(
    ["a", "b", "صاروخ", '"x y"', "@c", '@"d e"', "f*", "AND", "OR", "NOT", "-", "(", ")", "NEAR/2",
     "NEAR", "^2", '"', "@", "*", " ", "and"]
)  # fmt: skip


@given(st.one_of(st.text(max_size=30), st.lists(QUERY_PIECES, max_size=12).map(" ".join)))
def test_parser_raises_only_query_syntax_errors_and_round_trips(text: str) -> None:
    try:
        tree = parse_query(text)
    except QuerySyntaxError as error:
        assert 1 <= error.column <= len(text) + 1
        return
    assert parse_query(to_text(tree)) == tree


A, B = word("a"), word("b")


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        (Not(A, column=1), Not(A, column=9), True),  # where it was written does not count
        (And((A, B)), And((A, B)), True),
        (And((A, B)), Or((A, B)), False),
        (And((A, B)), And((B, A)), False),
        (Near(A, B, 3), Near(A, B, 3), True),
        (Near(A, B, 3), Near(A, B, 4), False),
        (Not(1), Not(1), True),  # a compiled tree: atom numbers for terms
        (Or((1, Not(2))), Or((1, Not(3))), False),
    ],
)
def test_operators_are_equal_when_of_one_kind_with_equal_operands(
    left: object, right: object, equal: bool
) -> None:
    assert (left == right) is equal
    assert (hash(left) == hash(right)) or not equal


# ------------------------------------------------------------------------------------------------
# Shortcuts taken while parsing change nothing a caller can see.
#
# - parse_query skips the depth walk for short queries and the negation checks for queries with no
#   NOT or `-`: whatever it accepts must pass both checks anyway.
# - `_has_words` answers ASCII and letter-or-digit text without the tokeniser: it must agree with it.


PIECES = st.sampled_from(
    ["a", "b", "صاروخ", '"x y"', "@c", "f*", "AND", "OR", "NOT", "-", "(", ")", "NEAR/2", "^2", "x-y", " ", "-a"]
)  # fmt: skip


@settings(max_examples=500)
@given(st.lists(PIECES, max_size=30).map(" ".join))
def test_an_accepted_query_passes_the_checks_it_may_skip(text: str) -> None:
    try:
        tree = parse_query(text)
    except QuerySyntaxError:
        return
    assert _depth(tree) <= MAX_DEPTH
    assert _negation_in_near(tree) is None
    assert _first_negation(tree) is None


def test_a_long_near_chain_is_still_too_deep() -> None:
    with pytest.raises(QuerySyntaxError, match="nested too deeply"):
        parse_query(" NEAR/1 ".join(["a"] * (MAX_DEPTH + 2)))


@given(st.text(max_size=12))
def test_has_words_agrees_with_the_tokeniser(text: str) -> None:
    assert _has_words(text) == has_tokens(normalise(text))


def test_every_letter_or_digit_is_a_token_character() -> None:
    token_char = regex.compile(r"(?V1)[\p{L}\p{M}\p{N}]")
    assert all(token_char.match(chr(cp)) for cp in range(sys.maxunicode + 1) if chr(cp).isalnum())

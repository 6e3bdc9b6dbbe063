"""The watchlist query language: lexer, parser, the query tree and its canonical text.

    query    := or_expr
    or_expr  := and_expr ("OR" and_expr)*
    and_expr := near_expr (["AND"] near_expr)*        juxtaposition means AND
    near_expr:= unary ("NEAR/" n unary)*              n = at most n other words between
    unary    := ("NOT" | "-") unary | primary
    primary  := "(" or_expr ")" | atom ["^" weight]
    atom     := word | word* | "a phrase" | @name | @"Name With Spaces"

Operators are case-sensitive (lowercase `and` is a word). Precedence: NOT > NEAR > AND > OR.

A query must be able to match without its negated parts, so every branch of an OR needs a positive
term: `NOT a` or `a OR NOT b` would fire on nearly every article and are rejected; write
`a AND NOT b`. NEAR takes positive operands only. Any string either parses or raises
`QuerySyntaxError(reason, column)` with a 1-based column; nothing else escapes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Generic, Literal, TypeAlias, TypeVar

from service.errors import QuerySyntaxError
from service.text.normalise import normalise
from service.text.tokenise import has_tokens

TermKind: TypeAlias = Literal["word", "phrase", "prefix", "ref"]

MAX_DEPTH = 100
MAX_NEAR = 10_000
_OPERATORS = {"AND", "OR", "NOT"}
_WORD_CHARS = re.compile(r"[^\s()\"^]+")
_NEXT = re.compile(r"\s*(?:([()])|([^\s()\"^]+)|(.))?", re.DOTALL)
_NEAR = re.compile(r"NEAR/([0-9]+)")
_WEIGHT = re.compile(r"\^([0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)")
_NEEDS_QUOTES = re.compile(r"[\s()\"^]")


class Term:
    """One atom. `text` is the word (without `*`), the phrase inside its quotes, or the @name.

    A plain class, not a frozen dataclass: compiled, its constructor is native (a dataclass's stays
    Python), and a compile makes one per query term. Equal when kind, text and weight are (the
    column where it was written does not count); never changed after it is made.
    """

    __slots__ = ("column", "kind", "text", "weight")

    def __init__(self, kind: TermKind, text: str, weight: float = 1.0, column: int = 0) -> None:
        self.kind: TermKind = kind
        self.text = text
        self.weight = weight
        self.column = column

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Term):
            return NotImplemented
        return self.kind == other.kind and self.text == other.text and self.weight == other.weight

    def __hash__(self) -> int:
        return hash((self.kind, self.text, self.weight))

    def __repr__(self) -> str:
        return f"Term(kind={self.kind!r}, text={self.text!r}, weight={self.weight!r}, column={self.column!r})"

    @property
    def label(self) -> str:
        """The atom as the user wrote it (canonically): what `Hit.term` shows."""
        if self.kind == "phrase":
            return f'"{self.text}"'
        if self.kind == "prefix":
            return f"{self.text}*"
        if self.kind == "ref":
            return f'@"{self.text}"' if _NEEDS_QUOTES.search(self.text) else f"@{self.text}"
        return self.text


# One tree for a query as written and as compiled: its leaves are Terms when parsed, and the
# compile (service.match.compile) hands the evaluator the same operators over atom numbers.
Leaf = TypeVar("Leaf")


class _Operator(Generic[Leaf]):
    """Equal when of one class with equal `fields()`; immutable once made.

    Plain classes like Term (mypyc cannot compile a generic dataclass), so a compile that makes
    one operator per query operator builds each natively.
    """

    __slots__ = ()

    def fields(self) -> tuple[object, ...]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Operator):
            return NotImplemented
        return type(self) is type(other) and self.fields() == other.fields()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.fields()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self.fields()))})"


class Not(_Operator[Leaf]):
    __slots__ = ("child", "column")

    def __init__(self, child: Tree[Leaf], column: int = 0) -> None:
        self.child = child
        self.column = column  # where it was written, for errors; not part of equality

    def fields(self) -> tuple[object, ...]:
        return (self.child,)


class _Group(_Operator[Leaf]):
    __slots__ = ("children",)

    def __init__(self, children: tuple[Tree[Leaf], ...]) -> None:
        self.children = children

    def fields(self) -> tuple[object, ...]:
        return self.children


class And(_Group[Leaf]):
    __slots__ = ()


class Or(_Group[Leaf]):
    __slots__ = ()


class Near(_Operator[Leaf]):
    __slots__ = ("distance", "left", "right")

    def __init__(self, left: Tree[Leaf], right: Tree[Leaf], distance: int) -> None:
        self.left = left
        self.right = right
        self.distance = distance

    def fields(self) -> tuple[object, ...]:
        return (self.left, self.right, self.distance)


Tree: TypeAlias = Leaf | Not[Leaf] | And[Leaf] | Or[Leaf] | Near[Leaf]
Query: TypeAlias = Tree[Term]


# ---------------------------------------------------------------- lexer


class _Lexeme:
    __slots__ = ("column", "distance", "kind", "term")

    def __init__(self, kind: str, column: int, term: Term | None = None, distance: int = 0) -> None:
        self.kind = kind  # ( ) AND OR NOT - NEAR ATOM END
        self.column = column
        self.term = term
        self.distance = distance


def _fail(reason: str, index: int) -> QuerySyntaxError:
    return QuerySyntaxError(reason, index + 1)


_ASCII_WORD = re.compile("[A-Za-z0-9]")


def _has_words(text: str) -> bool:
    """Does `text` hold a word once normalised? (ASCII: a letter or digit, the only tokens.)"""
    if text.isascii():
        if text.isalnum():  # the usual term: one word
            return True
        return _ASCII_WORD.search(text) is not None
    folded = normalise(text)
    # A letter or digit is always a token character (checked over every code point by a test).
    return any(map(str.isalnum, folded)) or has_tokens(folded)


def _read_quoted(text: str, start: int, what: str) -> tuple[str, int]:
    """The text between the quote at `start` and the next quote, and the index after it."""
    end = text.find('"', start + 1)
    if end < 0:
        raise _fail("unterminated quote", start)
    inner = text[start + 1 : end]
    if not inner.strip():
        raise _fail(f"empty {what}", start)
    return inner, end + 1


def _read_weight(text: str, pos: int) -> tuple[float, int]:
    if pos >= len(text) or text[pos] != "^":
        return 1.0, pos
    found = _WEIGHT.match(text, pos)
    weight = float(found.group(1)) if found else math.nan
    if not found or not math.isfinite(weight) or weight <= 0:
        raise _fail("a weight after ^ must be a positive number, e.g. term^2", pos)
    return weight, found.end()


def _word_term(word: str, index: int) -> Term:
    body = word[:-1] if word.endswith("*") else word
    if "*" in body:
        raise _fail("* is only allowed at the end of a word", index + word.index("*"))
    if not _has_words(body):
        raise _fail(f"{word!r} has no letters or digits", index)
    return Term("prefix" if word.endswith("*") else "word", body, 1.0, index + 1)


def _read_atom(text: str, pos: int) -> tuple[Term, int]:
    """An atom (word, prefix, phrase or reference) starting at `pos`, without its weight."""
    char = text[pos]
    if char == '"':
        inner, end = _read_quoted(text, pos, "phrase")
        if not _has_words(inner):
            raise _fail("the phrase has no letters or digits", pos)
        return Term("phrase", inner, 1.0, pos + 1), end
    if char == "@":
        if text.startswith('"', pos + 1):
            name, end = _read_quoted(text, pos + 1, "name after @")
            return Term("ref", name, 1.0, pos + 1), end
        found = _WORD_CHARS.match(text, pos + 1)
        if not found:
            raise _fail("@ needs a concept or entity name", pos)
        return Term("ref", found.group(), 1.0, pos + 1), found.end()
    found = _WORD_CHARS.match(text, pos)
    assert found is not None  # callers only get here on a word character
    return _word_term(found.group(), pos), found.end()


def _read_word_operator(text: str, pos: int, word: str, end: int) -> tuple[_Lexeme, int] | None:
    """AND, OR, NOT or NEAR/n: the `word` at `pos` (ending at `end`), when it is one."""
    if word in _OPERATORS:
        return _Lexeme(word, pos + 1), end
    if not word.startswith("NEAR"):
        return None
    near = _NEAR.fullmatch(word)
    if word != "NEAR" and not word.startswith("NEAR/"):
        return None
    if not near:
        raise _fail("NEAR needs a distance, e.g. NEAR/5", pos)
    distance = int(near.group(1))
    if distance > MAX_NEAR:
        raise _fail(f"NEAR distance must be at most {MAX_NEAR}", pos)
    return _Lexeme("NEAR", pos + 1, distance=distance), end


def _is_minus(text: str, pos: int) -> bool:
    """A `-` that negates: directly followed by something that starts a term or a group."""
    if text[pos] != "-" or pos + 1 >= len(text):
        return False
    return not text[pos + 1].isspace() and text[pos + 1] not in ")^"


def _lex(text: str) -> list[_Lexeme]:
    lexemes: list[_Lexeme] = []
    pos = 0
    while True:
        # One match per lexeme: the whitespace before it, then a parenthesis, a run of word
        # characters (an operator or an atom), or a quote or caret.
        found = _NEXT.match(text, pos)
        if found is None or found.lastindex is None:
            break
        group = found.lastindex
        start = found.start(group)
        if group == 1:
            lexemes.append(_Lexeme(found.group(1), start + 1))
            pos = start + 1
            continue
        if group == 2:
            word = found.group(2)
            if word in _OPERATORS:
                lexemes.append(_Lexeme(word, start + 1))
                pos = found.end(2)
                continue
            if word[0] == "-" and _is_minus(text, start):
                lexemes.append(_Lexeme("-", start + 1))
                pos = start + 1
                continue
            operator = _read_word_operator(text, start, word, found.end(2))
            if operator is not None:
                lexemes.append(operator[0])
                pos = operator[1]
                continue
            if word[0] == "@":
                term, pos = _read_atom(text, start)
            else:
                term, pos = _word_term(word, start), found.end(2)
        elif found.group(3) == "^":
            raise _fail("^ must follow a term, e.g. term^2", start)
        else:
            term, pos = _read_atom(text, start)  # a phrase
        if pos < len(text) and text[pos] == "^":
            weight, pos = _read_weight(text, pos)
            if weight != 1.0:
                term = Term(term.kind, term.text, weight, term.column)
        lexemes.append(_Lexeme("ATOM", term.column, term))
    lexemes.append(_Lexeme("END", len(text) + 1))
    return lexemes


# ---------------------------------------------------------------- parser

_STARTS_OPERAND = {"ATOM", "(", "NOT", "-"}


class _Parser:
    """Recursive descent over the lexemes; the depth limit keeps hostile input from recursing."""

    def __init__(self, lexemes: list[_Lexeme]) -> None:
        self.lexemes = lexemes
        self.index = 0
        self.depth = 0

    def peek(self) -> _Lexeme:
        return self.lexemes[self.index]

    def take(self) -> _Lexeme:
        lexeme = self.lexemes[self.index]
        self.index += 1
        return lexeme

    def parse(self) -> Query:
        if self.peek().kind == "END":
            raise QuerySyntaxError("empty query", 1)
        query = self.or_expr()
        end = self.peek()
        if end.kind == ")":
            raise QuerySyntaxError("unbalanced parenthesis: nothing to close", end.column)
        return query

    # The loops below read self.lexemes[self.index] directly: peek() and take() as method calls
    # were a fifth of the time spent compiling a large watchlist set.

    def or_expr(self) -> Query:
        children = [self.and_expr(None)]
        lexemes = self.lexemes
        while lexemes[self.index].kind == "OR":
            self.index += 1
            children.append(self.and_expr(lexemes[self.index - 1]))
        return children[0] if len(children) == 1 else Or(_flatten(Or, children))

    def and_expr(self, operator: _Lexeme | None) -> Query:
        children = [self.near_expr(operator)]
        lexemes = self.lexemes
        while True:
            lexeme = lexemes[self.index]
            if lexeme.kind == "AND":
                self.index += 1
                children.append(self.near_expr(lexeme))
            elif lexeme.kind in _STARTS_OPERAND:
                children.append(self.near_expr(None))
            else:
                break
        return children[0] if len(children) == 1 else And(_flatten(And, children))

    def near_expr(self, operator: _Lexeme | None) -> Query:
        query = self.unary(operator)
        lexemes = self.lexemes
        while lexemes[self.index].kind == "NEAR":
            near = lexemes[self.index]
            self.index += 1
            query = Near(query, self.unary(near), near.distance)
        return query

    def unary(self, operator: _Lexeme | None) -> Query:
        lexeme = self.lexemes[self.index]
        if lexeme.kind in ("NOT", "-"):
            self.take()
            self.enter(lexeme)
            child = self.unary(lexeme)
            self.depth -= 1
            return Not(child, lexeme.column)
        return self.primary(operator)

    def primary(self, operator: _Lexeme | None) -> Query:
        lexeme = self.lexemes[self.index]
        self.index += 1
        if lexeme.kind == "ATOM" and lexeme.term is not None:
            return lexeme.term
        if lexeme.kind == "(":
            return self.group(lexeme)
        raise self.missing_operand(lexeme, operator)

    def group(self, opening: _Lexeme) -> Query:
        if self.peek().kind == ")":
            raise QuerySyntaxError("empty parentheses", opening.column)
        self.enter(opening)
        query = self.or_expr()
        self.depth -= 1
        if self.take().kind != ")":
            raise QuerySyntaxError("unclosed parenthesis", opening.column)
        return query

    def enter(self, lexeme: _Lexeme) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QuerySyntaxError("the query is nested too deeply", lexeme.column)

    @staticmethod
    def missing_operand(found: _Lexeme, operator: _Lexeme | None) -> QuerySyntaxError:
        name = {"-": "a leading -"}.get(operator.kind, operator.kind) if operator else ""
        if operator is not None:
            return QuerySyntaxError(f"{name} needs a term after it", operator.column)
        if found.kind == ")":
            return QuerySyntaxError("unbalanced parenthesis: nothing to close", found.column)
        return QuerySyntaxError(f"{found.kind} needs a term before it", found.column)


def _flatten(kind: type[And[Term]] | type[Or[Term]], children: list[Query]) -> tuple[Query, ...]:
    """a AND (b AND c) is a AND b AND c: one n-ary node, so printing and reparsing agree."""
    flat: list[Query] = []
    for child in children:
        flat.extend(child.children if isinstance(child, kind) else (child,))
    return tuple(flat)


# ---------------------------------------------------------------- checks and printing


def _first_negation(query: Query) -> int | None:
    """Column of a NOT that leaves `query` able to match with no positive term, if any."""
    if isinstance(query, Term):
        return None
    if isinstance(query, Not):
        return query.column
    if isinstance(query, Near):
        return None
    if isinstance(query, And):
        columns = [_first_negation(child) for child in query.children]
        return None if None in columns else columns[0]
    for child in query.children:
        column = _first_negation(child)
        if column is not None:
            return column
    return None


def _negation_in_near(query: Query, inside: bool = False) -> int | None:
    """Column of a NOT used as (part of) a NEAR operand, if any."""
    if isinstance(query, Term):
        return None
    if isinstance(query, Not):
        return query.column if inside else _negation_in_near(query.child, inside)
    if isinstance(query, Near):
        return _negation_in_near(query.left, True) or _negation_in_near(query.right, True)
    for child in query.children:
        column = _negation_in_near(child, inside)
        if column is not None:
            return column
    return None


def _depth(query: Query) -> int:
    """Nesting depth, computed without recursion (NEAR chains are built left-deep in a loop)."""
    deepest, stack = 0, [(query, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in _children(node))
    return deepest


def _children(query: Query) -> tuple[Query, ...]:
    if isinstance(query, Term):
        return ()
    if isinstance(query, Not):
        return (query.child,)
    if isinstance(query, Near):
        return (query.left, query.right)
    return query.children


def parse_query(text: str) -> Query:
    """Parse a watchlist query; raise QuerySyntaxError(reason, column) when it is not valid."""
    lexemes = _lex(text)
    query = _Parser(lexemes).parse()
    # A tree has fewer nodes than twice its lexemes (each leaf, NOT and NEAR has one, and AND
    # and OR nodes, with two children or more, are fewer than the leaves), so a short query
    # cannot be too deep: only long NEAR chains, which the parser builds without recursing, can.
    if 2 * len(lexemes) > MAX_DEPTH and _depth(query) > MAX_DEPTH:
        raise QuerySyntaxError("the query is nested too deeply", 1)
    if "NOT" not in text and "-" not in text:
        return query  # no negation at all: nothing more to check
    column = _negation_in_near(query)
    if column is not None:
        raise QuerySyntaxError("NEAR cannot take a NOT term", column)
    column = _first_negation(query)
    if column is not None:
        reason = "this NOT leaves nothing that must match; write: term AND NOT other"
        raise QuerySyntaxError(reason, column)
    return query


def iter_terms(query: Query) -> list[Term]:
    """Every atom of `query`, in the order written."""
    if isinstance(query, Term):
        return [query]
    return [term for child in _children(query) for term in iter_terms(child)]


def query_references(query: Query) -> list[tuple[str, int]]:
    """Every @name the query refers to, with its 1-based column, in the order written.

    A name is looked up among concepts and entities; `compile_matcher` rejects a name that is
    neither, and a name that is both (ambiguous), with the column given here.
    """
    return [(term.text, term.column) for term in iter_terms(query) if term.kind == "ref"]


def _weight_text(weight: float) -> str:
    if weight == 1.0:
        return ""
    return f"^{int(weight)}" if weight.is_integer() and weight < 1e15 else f"^{weight!r}"


def to_text(query: Query) -> str:
    """Canonical text of `query`; parse_query(to_text(q)) == q."""
    return render(query, _term_text)


def _term_text(term: Term) -> str:
    return term.label + _weight_text(term.weight)


def render(tree: Tree[Leaf], leaf: Callable[[Leaf], str]) -> str:
    """Canonical text of a query tree whose leaves `leaf` writes (a compiled tree's are atoms)."""
    if not isinstance(tree, _Operator):
        return leaf(tree)
    if isinstance(tree, Not):
        return "NOT " + _wrap(tree.child, leaf, (Not,))
    if isinstance(tree, Near):
        left = _wrap(tree.left, leaf, (Not, Near))
        return f"{left} NEAR/{tree.distance} {_wrap(tree.right, leaf, (Not,))}"
    if isinstance(tree, And):
        return " AND ".join(_wrap(child, leaf, (Not, Near)) for child in tree.children)
    assert isinstance(tree, Or)
    return " OR ".join(_wrap(child, leaf, (Not, Near, And)) for child in tree.children)


def _wrap(tree: Tree[Leaf], leaf: Callable[[Leaf], str], bare: tuple[type, ...]) -> str:
    text = render(tree, leaf)
    return text if not isinstance(tree, _Operator) or isinstance(tree, bare) else f"({text})"

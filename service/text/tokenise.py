"""Split normalised text into word tokens, splitting wherever the script changes.

A token is a run of Arabic-script letters, a run of other letters, or a number (`3.5`, `1,000`).
So والـPMF gives وال | pmf and 3صواريخ gives 3 | صواريخ: a clitic or a digit glued to a word of
another script never hides the word. Marks stay
inside words, which matters only for text that was not normalised first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import regex  # type: ignore[import-untyped, unused-ignore]

ARABIC: Final = "A"
LETTERS: Final = "L"
NUMBER: Final = "N"
SEPARATOR: Final = " "

# Script_Extensions, not Script: harakat are Inherited and tatweel Common, and must stay in words.
_ARABIC_CLASS = r"[[\p{L}\p{M}]&&\p{scx=Arabic}]"
_LETTER_CLASS = r"[[\p{L}\p{M}]--\p{scx=Arabic}]"
_TOKEN = regex.compile(
    rf"(?V1)(?P<A>{_ARABIC_CLASS}+)|(?P<L>{_LETTER_CLASS}+)|(?P<N>\p{{N}}+(?:[.,]\p{{N}}+)*)"
)
_KIND_OF = regex.compile(rf"(?V1)(?P<A>{_ARABIC_CLASS})|(?P<L>{_LETTER_CLASS})|(?P<N>\p{{N}})")
# The runs that make ARABIC and LETTERS tokens, for counting letters without tokenising.
ARABIC_RUNS: Final = regex.compile(rf"(?V1){_ARABIC_CLASS}+")
LETTER_RUNS: Final = regex.compile(rf"(?V1){_LETTER_CLASS}+")


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    start: int
    end: int
    kind: str  # ARABIC, LETTERS or NUMBER


def tokenise(text: str) -> list[Token]:
    """The word tokens of `text` (normally already normalised), in order."""
    return [
        Token(found.group(), found.start(), found.end(), str(found.lastgroup))
        for found in _TOKEN.finditer(text)
    ]


def token_kinds(text: str) -> list[tuple[str, str]]:
    """(text, kind) of each token: `tokenise` without the Token objects (compiling many terms)."""
    return [(found.group(), str(found.lastgroup)) for found in _TOKEN.finditer(text)]


def has_tokens(text: str) -> bool:
    return _TOKEN.search(text) is not None


def count_tokens(text: str, limit: int) -> int:
    """How many tokens `text` holds, counting no further than `limit` + 1 (cheap on long text).

    No token spans whitespace, so the count is the sum of the counts of the whitespace-separated
    chunks, and those are remembered: NEAR asks this of the same news words again and again.
    """
    count = 0
    rest = text
    pieces_at_most = max(limit, 0) + 2  # at most limit + 1 chunks, then the rest unsplit
    while rest:
        pieces = rest.split(None, pieces_at_most - 1)
        rest = pieces.pop() if len(pieces) == pieces_at_most else ""
        for chunk in pieces:
            count += _chunk_tokens(chunk)
            if count > limit:
                return limit + 1
    return count


# The UTF-8 bytes of U+0600..U+06FF (lead bytes D8-DB, and the continuation bytes): a word whose
# encoding is all of these is written in that block, where every letter is an ARABIC letter (a
# test checks it), so a run of its letters is one token, found without the regex.
_ARABIC_BLOCK_UTF8: Final = bytes([*range(0x80, 0xC0), *range(0xD8, 0xDC)])
_CHUNK_TOKENS: dict[str, int] = {}
_CHUNK_TOKENS_LIMIT: Final = 100_000


def _chunk_tokens(chunk: str) -> int:
    found = _CHUNK_TOKENS.get(chunk)
    if found is None:
        found = 0
        if chunk.isalpha() and (chunk.isascii() or not chunk.encode().translate(None, _ARABIC_BLOCK_UTF8)):
            found = 1  # one English or Arabic-script word (the usual new chunk): one run of letters
        else:
            for _ in _TOKEN.finditer(chunk):
                found += 1
        if len(_CHUNK_TOKENS) < _CHUNK_TOKENS_LIMIT:
            _CHUNK_TOKENS[chunk] = found
    return found


class CharKinds:
    """Memoised `kind of one character`: ARABIC, LETTERS, NUMBER or SEPARATOR.

    The matcher checks word boundaries around every automaton hit one character at a time; a dict
    lookup keeps that check cheap and stays consistent with `tokenise` because it uses its classes.
    """

    __slots__ = ("memo",)

    def __init__(self) -> None:
        # Read directly by hot loops as `memo.get(c) or char_kind(c)`: every kind is a non-empty
        # string, so a memo hit never falls through to the call.
        self.memo: dict[str, str] = {}

    def __call__(self, char: str) -> str:
        kind = self.memo.get(char)
        if kind is None:
            found = _KIND_OF.match(char)
            kind = str(found.lastgroup) if found else SEPARATOR
            if len(self.memo) < 100_000:
                self.memo[char] = kind
        return kind


char_kind: Final = CharKinds()

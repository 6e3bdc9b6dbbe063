"""One normaliser for article text and query terms, plus offsets back into the original.

The steps, the same for every script (a term matches whatever diacritics and letter variants the text
writes it with):

1. NFKD: presentation forms and ligatures become plain letters (ﻻ → لا), full-width Latin becomes
   ASCII, and every accented letter splits into base + mark (é → e + ◌́, أ → ا + ◌ٔ, ؤ → و + ◌ٔ).
2. Delete every combining mark in every script (harakat, Quranic marks, hamza above/below, Latin
   accents), tatweel, and the invisible bidi and zero-width format characters.
3. Map letter variants: alef forms → ا, ى/ی/ے → ي, ک → ك, ة/ۀ/ە → ه, Sorani ڕ ڵ ڤ, Arabic and
   Persian digits → 0-9, Arabic punctuation → ASCII, ZWNJ → space.
4. casefold.

Every step works character by character, so the output is the concatenation of each character's
output. That is what makes `normalise_with_offsets` exact and `normalise` idempotent, and it is
also what makes `normalise` fast: the steps above run once per *character of the Unicode table*
(`_normalise_reference`, on first use), and text is then folded from that table in one pass by the
C folder (`_fold.c`), or, where it was not built, by finding which of those characters it holds (one
regex scan, after `in` checks for the few that Arabic-script news is full of) and replacing each
distinct one with `str.replace` (a `str.translate` table looks up every character of a long text in
a dict, several times slower): about 30 µs for a 4 KB Arabic article where running the steps took
85–110 µs. Short strings (query terms) go through one `str.translate` instead. The tests hold `normalise` to the reference over every code
point and on random text.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache
from itertools import accumulate, count
from operator import add, sub
from typing import TYPE_CHECKING

try:
    from service.text import _fold
except ImportError:  # built without a C compiler: the Python path below does the same
    _fold = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from service.text._fold import Folder

# Invisible characters deleted outright (bidi controls, joiners, soft hyphen, BOM) plus tatweel and
# the high hamza ٴ (NFKD leaves it behind from ٵ ٶ ٷ ٸ).
_FORMAT_DELETE = (
    "\u0640\u0674\u00ad\u061c\u180e\u200b\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064"
    "\u2066\u2067\u2068\u2069\ufeff"
)

# Single characters replaced after the deletions; order does not matter (no output is an input).
_LETTER_MAP: tuple[tuple[str, str], ...] = (
    ("\u200c", " "),  # ZWNJ: Persian موشک‌ها splits into stem + affix, as Lucene's PersianCharFilter
    ("\u0671", "\u0627"),  # ٱ wasla
    ("\u0672", "\u0627"),
    ("\u0673", "\u0627"),
    ("\u0649", "\u064a"),  # ى alef maksura
    ("\u06cc", "\u064a"),  # ی Farsi yeh
    ("\u06d2", "\u064a"),  # ے yeh barree
    ("\u06d0", "\u064a"),  # ې
    ("\u06ce", "\u064a"),  # ێ Sorani
    ("\u06c6", "\u0648"),  # ۆ Sorani
    ("\u06a9", "\u0643"),  # ک keheh
    ("\u06aa", "\u0643"),  # ڪ
    ("\u0629", "\u0647"),  # ة teh marbuta
    ("\u06c1", "\u0647"),  # ہ heh goal
    ("\u06d5", "\u0647"),  # ە Sorani ae (ۀ decomposes to it)
    ("\u06be", "\u0647"),  # ھ heh doachashmee
    ("\u0695", "\u0631"),  # ڕ
    ("\u0692", "\u0631"),  # ڒ
    ("\u06b5", "\u0644"),  # ڵ
    ("\u06a4", "\u0641"),  # ڤ
    ("\u066b", "."),
    ("\u066c", ","),
    ("\u060c", ","),
    ("\u061b", ";"),
    ("\u061f", "?"),
    *((chr(0x0660 + d), str(d)) for d in range(10)),
    *((chr(0x06F0 + d), str(d)) for d in range(10)),
)

# Planes that hold combining marks or compatibility characters; the rest map to themselves, except
# the CJK compatibility ideographs of plane 2, which NFKD maps to their unified forms.
_SCANNED = (range(0x0000, 0x20000), range(0x2F800, 0x2FA20), range(0xE0000, 0xE1000))


@cache
def _code_points() -> tuple[str, ...]:
    return tuple(chr(cp) for plane in _SCANNED for cp in plane if not 0xD800 <= cp <= 0xDFFF)


def _is_mark(char: str) -> bool:
    return unicodedata.category(char) in ("Mn", "Me") or unicodedata.combining(char) != 0


def _class_of(chars: list[str]) -> str:
    """A regex character class matching exactly `chars` (collapsed into ranges)."""
    points = sorted(ord(c) for c in chars)
    parts: list[str] = []
    start = prev = points[0]
    for cp in [*points[1:], -1]:
        if cp != prev + 1:
            parts.append(re.escape(chr(start)) + ("-" + re.escape(chr(prev)) if prev > start else ""))
            start = cp
        prev = cp
    return "[" + "".join(parts) + "]"


def _has_astral(text: str) -> bool:
    """Does `text` hold a character above U+FFFF? (UTF-16 needs 4 bytes for those; ~1 ns/char.)"""
    return len(text.encode("utf-16-le", "surrogatepass")) != 2 * len(text)


# Precomposed Arabic letters that NFKD would split into base + hamza/madda mark only for the mark
# to be deleted: replacing them directly lets most Arabic text skip NFKD altogether.
_PRECOMPOSED: tuple[tuple[str, str], ...] = (
    ("\u0623", "\u0627"),  # أ
    ("\u0625", "\u0627"),  # إ
    ("\u0622", "\u0627"),  # آ
    ("\u0624", "\u0648"),  # ؤ
    ("\u0626", "\u064a"),  # ئ
    ("\u06c0", "\u0647"),  # ۀ
    ("\u06c2", "\u0647"),  # ۂ
    ("\u06d3", "\u064a"),  # ۓ
    ("\u2026", "..."),  # … and the no-break space are the usual reasons web text is not NFKD
    ("\u00a0", " "),
)


class _CharSet:
    """Fast search for a large set of characters.

    `re` compiles a class of BMP characters into a bitmap, but a class that also holds astral
    characters into a list of ranges tried one by one for every character (~1000× slower). So the
    astral part is a second pattern, used only when the text has astral characters at all.
    """

    def __init__(self, chars: list[str]) -> None:
        bmp = [c for c in chars if ord(c) <= 0xFFFF]
        astral = [c for c in chars if ord(c) > 0xFFFF]
        self.bmp = re.compile(_class_of(bmp))
        self.astral = re.compile(_class_of(astral)) if astral else None

    def _astral_in(self, text: str) -> re.Pattern[str] | None:
        return self.astral if self.astral is not None and _has_astral(text) else None

    def delete(self, text: str) -> str:
        """`text` without any character of the set."""
        if self.bmp.search(text):
            text = self.bmp.sub("", text)
        astral = self._astral_in(text)
        return astral.sub("", text) if astral else text

    def occurs_in(self, text: str) -> bool:
        astral = self._astral_in(text)
        return bool(self.bmp.search(text) or (astral and astral.search(text)))

    def found_in(self, text: str) -> list[str]:
        """Every occurrence of the set's characters in `text` (as one-character strings)."""
        found: list[str] = self.bmp.findall(text)
        astral = self._astral_in(text)
        return found + astral.findall(text) if astral else found

    def positions(self, text: str) -> list[int]:
        """Indexes of the set's characters in `text`, in order."""
        found = [m.start() for m in self.bmp.finditer(text)]
        astral = self._astral_in(text)
        return sorted(found + [m.start() for m in astral.finditer(text)]) if astral else found


# ---------------------------------------------------------------- the reference pipeline


@dataclass(frozen=True, slots=True)
class _Steps:
    """What the step-by-step pipeline needs (built on first use: ~0.1 s over the Unicode table)."""

    precomposed: dict[int, str]
    letters: dict[int, str]
    delete: _CharSet
    cased: _CharSet
    marks: frozenset[str]


@cache
def _steps() -> _Steps:
    marks = [c for c in _code_points() if _is_mark(c)]
    return _Steps(
        str.maketrans(dict(_PRECOMPOSED)),
        str.maketrans(dict(_LETTER_MAP)),
        _CharSet(marks + list(_FORMAT_DELETE)),
        _CharSet([c for c in _code_points() if c.casefold() != c]),
        frozenset(marks),
    )


_SHORT = 80  # below this length one translate() beats a loop of `in` checks


def _replace_all(text: str, pairs: tuple[tuple[str, str], ...], table: dict[int, str]) -> str:
    if len(text) < _SHORT:
        return text.translate(table)
    for source, target in pairs:
        # `in` first: most replacements are absent and the scan is far cheaper than replace().
        if source in text:
            text = text.replace(source, target)
    return text


def _normalise_reference(text: str) -> str:
    """The four steps of the module docstring, run on `text` one after the other.

    The definition of `normalise`: slower, used to build the per-character table, for text
    holding a great many distinct characters to fold, and by the tests.
    """
    if text.isascii():
        return text.casefold()
    steps = _steps()
    folded = _replace_all(text, _PRECOMPOSED, steps.precomposed)
    if not unicodedata.is_normalized("NFKD", folded):
        folded = unicodedata.normalize("NFKD", folded)
    folded = _replace_all(steps.delete.delete(folded), _LETTER_MAP, steps.letters)
    return folded.casefold() if steps.cased.occurs_in(folded) else folded


# ---------------------------------------------------------------- the per-character table


@dataclass(frozen=True, slots=True)
class _Table:
    """Every character that normalising changes, with its output."""

    output: dict[str, str]
    ordinals: dict[int, str]  # the same, for str.translate
    changed: _CharSet  # the characters of `output`
    resized: _CharSet  # those whose output is not exactly one character (for offsets)
    frequent_resized: frozenset[str]  # the resized characters among _FREQUENT
    rare_resized: frozenset[str]  # and all the others


@cache
def _table() -> _Table:
    steps = _steps()
    lookup = dict(_PRECOMPOSED) | dict(_LETTER_MAP)
    candidates = [
        c
        for c in _code_points()
        if c in lookup
        or c in steps.marks
        or c in _FORMAT_DELETE
        or c.casefold() != c
        or not unicodedata.is_normalized("NFKD", c)
    ]
    # The pipeline works character by character and leaves NUL alone, so one run over all the
    # candidates gives each one's output (the tests compare every code point one by one).
    outputs = _normalise_reference("\0".join(candidates)).split("\0")
    output = {c: out for c, out in zip(candidates, outputs, strict=True) if out != c}
    # Replacing one character at a time is only order-free if no output holds a changed character.
    assert not any(char in output for out in output.values() for char in out)
    resized = [c for c, out in output.items() if len(out) != 1]
    return _Table(
        output,
        {ord(c): out for c, out in output.items()},
        _CharSet(list(output)),
        _CharSet(resized),
        frozenset(c for c in _FREQUENT if c in resized),
        frozenset(c for c in resized if c not in _FREQUENT),
    )


@cache
def _folder() -> Folder | None:
    """The C folder over the table, where it was built (then it does all the folding)."""
    return None if _fold is None else _fold.Folder(_table().output)


_MANY = 64  # more distinct characters to fold than this: the step-by-step pipeline is quicker
_SHORT_TEXT = 48  # up to this length (a query term), one translate() beats the scans below

# The characters to fold that Arabic-script news is full of (hamza seats, teh marbuta, alef
# maksura, tatweel, harakat, Arabic punctuation, Persian letters, bidi marks, the ellipsis). Each
# costs one memchr-like `in` scan; finding them with the regex instead costs ~0.15 µs per occurrence.
_FREQUENT = "أإآؤئةىـ\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652،؛؟یک\u200c\u200f\u00a0…"


def normalise(text: str) -> str:
    """Fold `text` for matching: see the module docstring. Pure, total and idempotent."""
    if text.isascii():
        return text.lower()  # the same as casefold() on ASCII, and the quickest
    return normalise_marked(text)[0]


def normalise_marked(text: str) -> tuple[str, tuple[str, ...] | None]:
    """`normalise(text)`, and the characters of `text` that change length when normalised, if they
    are known: always from the C folder, and from the Python path when they are all frequent ones
    (tatweel, harakat, bidi marks, the ellipsis); None when it may hold others.

    `normalise_with_offsets` then finds them with a `str.find` scan each instead of a regex scan
    over the whole text. Normalising already looks for every character it changes, so it can
    tell at no extra cost.
    """
    if text.isascii():
        return text.lower(), ()
    folder = _folder()
    if folder is not None:
        return folder.fold(text)
    return _normalise_marked_python(text)


def _normalise_marked_python(text: str) -> tuple[str, tuple[str, ...] | None]:
    """`normalise_marked` without the C folder, for text that is not ASCII."""
    table = _table()
    if len(text) <= _SHORT_TEXT:
        return text.translate(table.ordinals), None
    output = table.output
    resized = table.frequent_resized
    moved: list[str] = []
    for char in _FREQUENT:
        if char in text:
            text = text.replace(char, output[char])
            if char in resized:
                moved.append(char)
    found = table.changed.found_in(text)
    if not found:
        return text, tuple(moved)
    distinct = set(found)
    if len(distinct) > _MANY:
        return _normalise_reference(text), None
    for char in distinct:
        text = text.replace(char, output[char])
    return text, tuple(moved) if table.rare_resized.isdisjoint(distinct) else None


@dataclass(frozen=True, slots=True)
class Normalised:
    """A normalised text that can map its spans back to the original text.

    Only characters whose output length is not 1 break the one-to-one alignment; they are
    recorded as (original index, normalised index, output length), sorted.
    """

    text: str
    original: str
    orig_index: tuple[int, ...]
    norm_index: tuple[int, ...]
    out_len: tuple[int, ...]

    def original_offset(self, pos: int) -> int:
        """Index in the original of the character that produced normalised character `pos`."""
        j = bisect_right(self.norm_index, pos) - 1
        if j < 0:
            return pos
        start = self.norm_index[j]
        if pos < start + self.out_len[j]:
            return self.orig_index[j]
        return self.orig_index[j] + 1 + (pos - start - self.out_len[j])

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original span behind normalised `[start, end)`, with trailing marks included.

        A hit on مطار in «مطَـارِ» therefore shows the kasra it carries.
        """
        if end <= start:
            at = self.original_offset(start) if start < len(self.text) else len(self.original)
            return at, at
        first = self.original_offset(start)
        last = self.original_offset(end - 1) + 1
        marks = _steps().marks
        while last < len(self.original) and self.original[last] in marks:
            last += 1
        return first, last


def normalise_with_offsets(
    text: str, normalised: str | None = None, *, moved: tuple[str, ...] | None = None
) -> Normalised:
    """Normalise `text` and keep what is needed to map any span back to `text`.

    Pass `normalised` when normalise(text) is already at hand, to skip computing it again, and
    `moved` when `normalise_marked` gave it.
    """
    folded = normalise(text) if normalised is None else normalised
    if text.isascii():
        return Normalised(folded, text, (), (), ())
    table = _table()
    orig = table.resized.positions(text) if moved is None else _positions_of(text, moved)
    # The character at orig[j] becomes lengths[j] characters; those before it became
    # sum(lengths[:j]) characters in place of j, which shifts where it lands. Done with C-level
    # iterators: an Arabic article with tatweel and harakat has dozens of such characters.
    lengths = list(map(len, map(table.output.__getitem__, map(text.__getitem__, orig))))
    shifts = map(sub, accumulate(lengths, initial=0), count())
    norm = tuple(map(add, orig, shifts))
    return Normalised(folded, text, tuple(orig), norm, tuple(lengths))


def _positions_of(text: str, chars: tuple[str, ...]) -> list[int]:
    """Indexes in `text` of every occurrence of `chars`, in order (one `str.find` scan per char)."""
    found: list[int] = []
    for char in chars:
        at = text.find(char)
        while at >= 0:
            found.append(at)
            at = text.find(char, at + 1)
    found.sort()
    return found

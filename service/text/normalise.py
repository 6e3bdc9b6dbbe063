"""One normaliser for article text and query terms, plus offsets back into the original.

The steps (notes/arabic.md §1.2, widened to every script's diacritics as SPEC §4 asks):

1. NFKD: presentation forms and ligatures become plain letters (ﻻ → لا), full-width Latin becomes
   ASCII, and every accented letter splits into base + mark (é → e + ◌́, أ → ا + ◌ٔ, ؤ → و + ◌ٔ).
2. Delete every combining mark in every script (harakat, Quranic marks, hamza above/below, Latin
   accents), tatweel, and the invisible bidi and zero-width format characters.
3. Map letter variants: alef forms → ا, ى/ی/ے → ي, ک → ك, ة/ۀ/ە → ه, Sorani ڕ ڵ ڤ, Arabic and
   Persian digits → 0-9, Arabic punctuation → ASCII, ZWNJ → space.
4. casefold.

Every step works character by character, so the output is the concatenation of each character's
output. That is what makes `normalise_with_offsets` exact and `normalise` idempotent; the tests
check both over every code point of the BMP and SMP.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache, lru_cache

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

# Planes that hold combining marks or compatibility characters; the rest map to themselves.
_SCANNED = (range(0x0000, 0x20000), range(0xE0000, 0xE1000))


def _code_points() -> list[str]:
    return [chr(cp) for plane in _SCANNED for cp in plane if not 0xD800 <= cp <= 0xDFFF]


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

    _ASTRAL = re.compile("[\U00010000-\U0010ffff]")

    def __init__(self, chars: list[str]) -> None:
        bmp = [c for c in chars if ord(c) <= 0xFFFF]
        astral = [c for c in chars if ord(c) > 0xFFFF]
        self.bmp = re.compile(_class_of(bmp))
        self.astral = re.compile(_class_of(astral)) if astral else None

    def _astral_in(self, text: str) -> re.Pattern[str] | None:
        return self.astral if self.astral is not None and self._ASTRAL.search(text) else None

    def delete(self, text: str) -> str:
        """`text` without any character of the set."""
        if self.bmp.search(text):
            text = self.bmp.sub("", text)
        astral = self._astral_in(text)
        return astral.sub("", text) if astral else text

    def occurs_in(self, text: str) -> bool:
        astral = self._astral_in(text)
        return bool(self.bmp.search(text) or (astral and astral.search(text)))

    def positions(self, text: str) -> list[int]:
        """Indexes of the set's characters in `text`, in order."""
        found = [m.start() for m in self.bmp.finditer(text)]
        astral = self._astral_in(text)
        return sorted(found + [m.start() for m in astral.finditer(text)]) if astral else found


_PRECOMPOSED_TABLE = str.maketrans(dict(_PRECOMPOSED))
_LETTER_TABLE = str.maketrans(dict(_LETTER_MAP))
_MARKS = [c for c in _code_points() if _is_mark(c)]
_DELETE = _CharSet(_MARKS + list(_FORMAT_DELETE))
_MARK_SET = frozenset(_MARKS)
_CASED = _CharSet([c for c in _code_points() if c.casefold() != c])


_SHORT = 80  # below this length one translate() beats a loop of `in` checks


def _replace_all(text: str, pairs: tuple[tuple[str, str], ...], table: dict[int, str]) -> str:
    if len(text) < _SHORT:
        return text.translate(table)
    for source, target in pairs:
        # `in` first: most replacements are absent and the scan is far cheaper than replace().
        if source in text:
            text = text.replace(source, target)
    return text


def normalise(text: str) -> str:
    """Fold `text` for matching: see the module docstring. Pure, total and idempotent.

    Each step is skipped when a cheap scan shows it would change nothing (performance.md §3).
    """
    if text.isascii():
        return text.casefold()
    folded = _replace_all(text, _PRECOMPOSED, _PRECOMPOSED_TABLE)
    if not unicodedata.is_normalized("NFKD", folded):
        folded = unicodedata.normalize("NFKD", folded)
    folded = _replace_all(_DELETE.delete(folded), _LETTER_MAP, _LETTER_TABLE)
    return folded.casefold() if _CASED.occurs_in(folded) else folded


@cache
def _specials() -> _CharSet:
    """Characters whose normalised form is not exactly one character (deleted or expanded)."""
    # Only characters that decompose, change length under casefold, or get deleted can qualify;
    # testing just those keeps the first call short (the full pipeline per code point is slow).
    suspects = [
        c
        for c in _code_points()
        if not unicodedata.is_normalized("NFKD", c)
        or len(c.casefold()) != 1
        or c in _MARK_SET
        or c in _FORMAT_DELETE
    ]
    return _CharSet([c for c in suspects if len(normalise(c)) != 1])


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
        while last < len(self.original) and self.original[last] in _MARK_SET:
            last += 1
        return first, last


@lru_cache(maxsize=4096)
def _normalise_char(char: str) -> str:
    return normalise(char)


def normalise_with_offsets(text: str, normalised: str | None = None) -> Normalised:
    """Normalise `text` and keep what is needed to map any span back to `text`.

    Pass `normalised` when normalise(text) is already at hand, to skip computing it again.
    """
    orig: list[int] = []
    norm: list[int] = []
    lengths: list[int] = []
    shift = 0
    if not text.isascii():
        for i in _specials().positions(text):
            size = len(_normalise_char(text[i]))
            orig.append(i)
            norm.append(i + shift)
            lengths.append(size)
            shift += size - 1
    folded = normalise(text) if normalised is None else normalised
    return Normalised(folded, text, tuple(orig), tuple(norm), tuple(lengths))

"""Consonant-skeleton keys that let a name match across scripts.

Esmail Qaani, Ismail Qa'ani, إسماعيل قاآني and اسماعیل قاآنی all reduce to `SMLKN`. A key alone
is only trusted for whole multi-word names of at least 5 consonants: a single surname's key (`KN`)
is shared by a hundred ordinary words. Shorter names are also held to their vowels
(`vowels_agree`), and Latin spellings of one name to each other by a key that keeps where the
vowels stand (`latin_vowelled_skeletons`: Esmail Qaani and Ismail Ghaani, not "small can").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import product
from typing import TYPE_CHECKING, Final

from service.text.normalise import normalise
from service.text.tokenise import ARABIC, LETTERS, tokenise

try:
    from service.text import _skeleton
except ImportError:  # built without a C compiler: entities.py finds the starts word by word
    _skeleton = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from service.text._skeleton import NameStarts

MIN_KEY: Final = 5
_DOUBLED = re.compile(r"(.)\1")
MIN_SHORT_KEY: Final = 3  # below this a name's consonants say too little even with its vowels
VOWEL: Final = "V"  # a run of vowels in a vowelled key

_LATIN_ARTICLES: Final = frozenset(
    {"al", "el", "as", "ash", "ad", "an", "ar", "at", "az", "ul", "ath", "adh", "ed", "es"}
)
# Longest first so that "sh" wins over "s"; a tuple means the letter is ambiguous.
_LATIN_UNITS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("kh", ("X",)),
    ("gh", ("K",)),
    ("sh", ("$",)),
    ("ch", ("$", "J")),
    ("zh", ("J",)),
    ("dj", ("J",)),
    ("dh", ("D",)),
    ("th", ("T",)),
    ("ph", ("F",)),
    ("b", ("B",)),
    ("p", ("B",)),
    ("t", ("T",)),
    ("j", ("J",)),
    ("h", ("H",)),
    ("q", ("K",)),
    ("k", ("K",)),
    ("c", ("K",)),
    ("g", ("K", "J")),
    ("d", ("D",)),
    ("z", ("D",)),
    ("s", ("S",)),
    ("f", ("F",)),
    ("l", ("L",)),
    ("m", ("M",)),
    ("n", ("N",)),
    ("r", ("R",)),
    ("x", ("KS",)),
    ("v", ("", "F")),  # Persian writes v as و (dropped), Arabic as ف
)
_LATIN_UNIT = re.compile("|".join(unit for unit, _ in _LATIN_UNITS))
_LATIN_TABLE: Final = dict(_LATIN_UNITS)
# The same readings by str.replace and str.translate, which every new English word of every
# article goes through: a digraph becomes its class (or a digit mark when it has two readings),
# then each letter its class, vowels nothing. Marks are expanded only for the words that have one.
_AMBIGUOUS: Final = {"1": _LATIN_TABLE["ch"], "2": _LATIN_TABLE["g"], "3": _LATIN_TABLE["v"]}
_DIGRAPH_MARKS: Final = tuple(
    (unit, "1" if unit == "ch" else readings[0]) for unit, readings in _LATIN_UNITS if len(unit) == 2
)
_MARK_TABLE: Final = str.maketrans(
    {
        **{unit: readings[0] for unit, readings in _LATIN_UNITS if len(unit) == 1 and len(readings) == 1},
        "g": "2",
        "v": "3",
        **dict.fromkeys("aeiouwy", ""),
    }
)
# Vowels and glides stay, as themselves: v is a vowel letter when Persian writes it و.
_LATIN_VOWELS: Final = "aeiouyw"
_LATIN_SHAPE_UNIT = re.compile(f"{_LATIN_UNIT.pattern}|[{_LATIN_VOWELS}]")
_LATIN_SHAPE_TABLE: Final = {**_LATIN_TABLE, "v": ("v", "F"), **{v: (v,) for v in _LATIN_VOWELS}}

_ARABIC_TABLE: Final = str.maketrans(
    {
        **dict.fromkeys("بپ", "B"),
        **dict.fromkeys("تطث", "T"),
        **dict.fromkeys("جژ", "J"),
        **dict.fromkeys("چش", "$"),
        **dict.fromkeys("حه", "H"),
        "خ": "X",
        **dict.fromkeys("دذضظز", "D"),
        "ر": "R",
        **dict.fromkeys("سص", "S"),
        **dict.fromkeys("غقكگ", "K"),
        "ف": "F",
        "ل": "L",
        "م": "M",
        "ن": "N",
        **dict.fromkeys("اءويع", ""),
    }
)
ARABIC_ARTICLE: Final = re.compile("^(?:[وفبك]?ال|لل)(?=..)")
_ARABIC_VOWELS: Final = "اوي"

# Normalised Arabic function words: a window containing one is not a name (without this, word
# pairs such as هذا مرة share a full name's key).
STOP_WORDS: Final = frozenset(
    normalise(word)
    for word in [
        "في",
        "من",
        "على",
        "إلى",
        "عن",
        "مع",
        "أن",
        "إن",
        "أو",
        "ثم",
        "قد",
        "لا",
        "ما",
        "لم",
        "لن",
        "هذا",
        "هذه",
        "ذلك",
        "تلك",
        "التي",
        "الذي",
        "الذين",
        "هو",
        "هي",
        "هم",
        "كان",
        "كانت",
        "قال",
        "قالت",
        "بعد",
        "قبل",
        "عند",
        "بين",
        "حتى",
        "كل",
        "غير",
        "أي",
        "أبو",
        "أم",
        "بن",
        "ابن",
        "بنت",
        "عبد",
        "يا",
        "و",
        "ف",
        "ب",
        "ل",
        "ك",
        "منذ",
        "حيث",
        "إذا",
        "لكن",
        "بل",
        "أيضا",
        "وقد",
        "فقد",
        "ولا",
        "كما",
        "فيه",
        "فيها",
        "عليه",
        "عليها",
        "له",
        "لها",
        "به",
        "بها",
        "منه",
        "منها",
    ]
)


# Kunya and patronymic words: function words elsewhere, but inside a name they are part of it
# (أبو مهدي المهندس, محمد بن سلمان), so they neither end a name window nor keep one from starting.
NAME_PARTICLES: Final = frozenset(normalise(word) for word in ["أبو", "أبي", "أم", "بن", "ابن", "بنت", "عبد"])


def collapse_doubles(key: str) -> str:
    """`key` with each run of one character cut to one, as re.sub(r"(.)\1+", r"\1", key) does.

    Without the regex: its replacement template is expanded in Python for every match, and this
    runs for every new word of every article. Like `.`, it leaves runs of line breaks alone.
    """
    if _DOUBLED.search(key) is None:  # the usual case
        return key
    kept: list[str] = []
    previous = ""
    for char in key:
        if char != previous or char == "\n":
            kept.append(char)
        previous = char
    return "".join(kept)


def _tidy(key: str) -> str:
    """Collapse doubled letters and drop one final H (Haniyeh/هنية, Falih/فالح)."""
    key = collapse_doubles(key)
    return key[:-1] if key.endswith("H") and len(key) > 1 else key


def _join(parts: tuple[str, ...]) -> str:
    return collapse_doubles("".join(parts))


@lru_cache(maxsize=1 << 16)
def arabic_token_skeleton(token: str) -> str:
    """Skeleton of one normalised Arabic-script token (article removed)."""
    return _tidy(ARABIC_ARTICLE.sub("", token).translate(_ARABIC_TABLE))


@lru_cache(maxsize=1 << 16)
def latin_token_skeletons(token: str) -> tuple[str, ...]:
    """Skeleton alternatives of one normalised Latin token ("" for an article)."""
    if token in _LATIN_ARTICLES:
        return ("",)
    if not (token.isascii() and token.isalpha()):
        return latin_skeletons_by_units(token)
    if "h" in token or "dj" in token:
        for pair, mark in _DIGRAPH_MARKS:  # digraphs never overlap: any order gives the scan's
            token = token.replace(pair, mark)
    marked = token.translate(_MARK_TABLE)
    if not any(mark in marked for mark in _AMBIGUOUS):  # most words: one reading of each letter
        return (_tidy(marked),)
    options = [_AMBIGUOUS.get(char, (char,)) for char in marked]
    return tuple(sorted({_tidy("".join(combo)) for combo in product(*options)}))


def latin_skeletons_by_units(token: str) -> tuple[str, ...]:
    """`latin_token_skeletons` by the regex split: the reference the tests hold it to."""
    units = [_LATIN_TABLE[unit] for unit in _LATIN_UNIT.findall(token)]
    return tuple(sorted({_tidy("".join(combo)) for combo in product(*units)}))


def _latin_fold(text: str) -> str:
    # ç and ş carry a sound (ch, sh) that stripping the cedilla would lose.
    text = text.replace("ç", "ch").replace("Ç", "ch").replace("ş", "sh").replace("Ş", "sh")
    return normalise(text)


def name_skeletons(name: str) -> tuple[str, frozenset[str]]:
    """(script, keys) of a whole name: script is ARABIC or LETTERS, or "" when mixed or empty."""
    tokens = tokenise(_latin_fold(name))
    kinds = {token.kind for token in tokens}
    if kinds == {ARABIC}:
        return ARABIC, frozenset({_join(tuple(arabic_token_skeleton(t.text) for t in tokens))})
    if kinds == {LETTERS}:
        options = [latin_token_skeletons(t.text) for t in tokens]
        return LETTERS, frozenset(_join(combo) for combo in product(*options))
    return "", frozenset()


@lru_cache(maxsize=1 << 16)
def latin_vowelled_skeletons(token: str) -> tuple[str, ...]:
    """Like `latin_token_skeletons`, but each run of vowels is kept as one VOWEL mark."""
    if token in _LATIN_ARTICLES:
        return ("",)
    keys = set()
    for consonants, runs in _latin_shapes(token):
        marked = [VOWEL if run else "" for run in runs]
        keys.add(
            "".join(run + consonant for run, consonant in zip(marked, consonants + " ", strict=True)).rstrip()
        )
    return tuple(sorted(keys))


def latin_vowelled_keys(name: str) -> frozenset[str]:
    """The vowelled keys of a whole Latin name (empty for a name in another script)."""
    tokens = tokenise(_latin_fold(name))
    if {token.kind for token in tokens} != {LETTERS}:
        return frozenset()
    options = [latin_vowelled_skeletons(t.text) for t in tokens]
    return frozenset(_join(combo) for combo in product(*options))


def name_start_finder(
    arabic: bool,
    starts: Sequence[frozenset[str]],
    breaks: frozenset[str],
    fallbacks: Sequence[Callable[[str], bool]],
) -> NameStarts | None:
    """The C finder of the words whose skeleton is in each of `starts` (None where it was not built).

    It reads the letter tables above, so the skeletons it makes are these; `fallbacks[i]` decides
    for `starts[i]` the rare words it will not enumerate (a Latin word of more than 1,024
    readings). Several start sets share one pass over the text: each word is read once.
    """
    if _skeleton is None:
        return None
    letters: dict[str, tuple[str, ...]] = (
        {chr(code): (out,) for code, out in _ARABIC_TABLE.items()} if arabic else dict(_LATIN_TABLE)
    )
    return _skeleton.NameStarts(arabic, tuple(starts), breaks, letters, _LATIN_ARTICLES, tuple(fallbacks))


def consonants_in(key: str) -> int:
    return len(key) - key.count(VOWEL)


Shape = tuple[str, tuple[str, ...]]  # consonant skeleton, and the vowel letters around each one


def _tidy_shape(consonants: str, runs: list[str]) -> Shape:
    """`_tidy` on a shape: a doubled consonant or a dropped final H joins the runs around it."""
    kept, merged = "", [runs[0]]
    for i, consonant in enumerate(consonants):
        if kept and kept[-1] == consonant:
            merged[-1] += runs[i + 1]
        else:
            kept += consonant
            merged.append(runs[i + 1])
    if kept.endswith("H") and len(kept) > 1:
        kept = kept[:-1]
        last = merged.pop()
        merged[-1] += last
    return kept, tuple(merged)


@lru_cache(maxsize=1 << 12)
def _arabic_shape(word: str) -> Shape:
    consonants, runs = "", [""]
    for char in ARABIC_ARTICLE.sub("", word):
        if char in _ARABIC_VOWELS:
            runs[-1] += char
        else:
            mapped = char.translate(_ARABIC_TABLE)
            if mapped != char and mapped:  # ع and ء are written or not: they ask for nothing
                consonants += mapped
                runs.append("")
    return _tidy_shape(consonants, runs)


@lru_cache(maxsize=1 << 12)
def _latin_shapes(token: str) -> tuple[Shape, ...]:
    options = [_LATIN_SHAPE_TABLE[unit] for unit in _LATIN_SHAPE_UNIT.findall(token)]
    shapes = set()
    for combo in product(*options):
        consonants, runs = "", [""]
        for part in combo:
            if part in _LATIN_VOWELS or part == "v":
                runs[-1] += part
            else:
                for consonant in part:  # x is two
                    consonants += consonant
                    runs.append("")
        shapes.add(_tidy_shape(consonants, runs))
    return tuple(sorted(shapes))


# The Latin vowels that may stand for a long vowel letter. A word-initial ا carries any vowel
# (Esmail, Ismail, Umm); a final ي may be an alef maksura, which normalising made ي (Mustafa).
_WRITTEN_AS: Final = {"ا": "a", "و": "ouwv", "ي": "iey"}


def _run_agrees(arabic: str, latin: str, first: bool, last: bool) -> bool:
    if not arabic:
        return True  # short vowels go unwritten in Arabic script
    if not latin:
        return False  # a long vowel the romanisation does not have: another word
    for letter in arabic:
        wanted = "aeiou" if first and letter == "ا" else _WRITTEN_AS[letter] + ("a" if last else "")
        if not any(vowel in latin for vowel in wanted):
            return False
    return True


def vowels_agree(arabic: str, latin: str) -> bool:
    """Do a normalised Arabic-script word and a Latin one have one skeleton and compatible vowels?

    Every long vowel letter (ا و ي) must have a Latin vowel where it stands: خور is Khor and مور
    is Mor, but خير is not Khor, and هذا is not Hadi.
    """
    consonants, runs = _arabic_shape(arabic)
    for other, latin_runs in _latin_shapes(latin):
        if other == consonants and all(
            _run_agrees(a, lat, i == 0, i == len(runs) - 1)
            for i, (a, lat) in enumerate(zip(runs, latin_runs, strict=True))
        ):
            return True
    return False

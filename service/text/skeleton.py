"""Consonant-skeleton keys that let a name match across scripts.

Esmail Qaani, Ismail Qa'ani, إسماعيل قاآني and اسماعیل قاآنی all reduce to `SMLKN`. Keys are
only trusted for whole multi-word names of at least 5 consonants: a single surname's key (`KN`)
is shared by a hundred ordinary words.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import product
from typing import Final

from service.text.normalise import normalise
from service.text.tokenise import ARABIC, LETTERS, tokenise

MIN_KEY: Final = 5

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
_ARABIC_ARTICLE = re.compile("^(?:[وفبك]?ال|لل)(?=..)")

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


def collapse_doubles(key: str) -> str:
    """`key` with each run of one character cut to one, as re.sub(r"(.)\1+", r"\1", key) does.

    Without the regex: its replacement template is expanded in Python for every match, and this
    runs for every new word of every article. Like `.`, it leaves runs of line breaks alone.
    """
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
    return _tidy(_ARABIC_ARTICLE.sub("", token).translate(_ARABIC_TABLE))


@lru_cache(maxsize=1 << 16)
def latin_token_skeletons(token: str) -> tuple[str, ...]:
    """Skeleton alternatives of one normalised Latin token ("" for an article)."""
    if token in _LATIN_ARTICLES:
        return ("",)
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

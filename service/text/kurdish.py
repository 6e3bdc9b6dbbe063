"""Kurdish suffix rules for whole-word matching: Sorani in Arabic script, Kurmanji in Latin script.

Both attach the article, the plural and the linking vowel (ezafe) to the noun, written joined:
Sorani درۆن → درۆنەکە ("the drone"), درۆنەکان ("the drones"), هێرشێک ("an attack"); Kurmanji
êrîş → êrîşa, êrîşek, êrîşên. A term recognised as Kurdish (by letters only that language writes)
also matches its forms with one suffix from the closed lists below; names never do. The lists are
in normalised form (ە → ه, ێ → ي, ê → e, î → i) and depend on whether the stem ends in a vowel,
after which both languages change the suffix (درۆنەکە but فڕۆکەکە; dîwarê but bajarvaniyê).
"""

from __future__ import annotations

from typing import Final

SORANI: Final = "ckb"
KURMANJI: Final = "kmr"

# Letters that Sorani writes and Arabic and Persian do not: a term holding one is a Sorani term, and
# a text word holding one is a Sorani word.
SORANI_LETTERS: Final = "ەێۆڕڵ"
# Kurmanji's circumflex vowels; ş and ç mark it too unless a letter only Turkish writes is there.
_KURMANJI_VOWELS: Final = frozenset("êîûÊÎÛ")
_KURMANJI_OR_TURKISH: Final = frozenset("şçŞÇ")
_TURKISH_ONLY: Final = frozenset("ıİğĞöÖüÜâÂ")

# Suffixes the Arabic rules already allow (ان ی) are not repeated here: those forms matched before.
# ێک indefinite, ەکە definite, ەکان definite plural, with ezafe ی, the postposition دا (لە ...دا)
# and ەوە (لە ...ەوە) after them; انی/اندا: plural with ezafe or postposition.
SORANI_AFTER_CONSONANT: Final = frozenset(
    {
        "يك",
        "يكي",
        "يكدا",
        "هكه",
        "هكهي",
        "هكهدا",
        "هكهوه",
        "هكان",
        "هكاني",
        "هكاندا",
        "هكانهوه",
        "اني",
        "اندا",
    }
)
SORANI_AFTER_VOWEL: Final = frozenset(
    {"يهك", "يهكي", "يهكدا", "كه", "كهي", "كهدا", "كهوه", "كان", "كاني", "كاندا", "كانهوه"}
)
# ê/a/ên ezafe and oblique, î masculine oblique, an oblique plural, ek/ekê/ekî indefinite, eke
# definite (Badînî); after a vowel the same with y: ya, yê, yên, yek.
KURMANJI_AFTER_CONSONANT: Final = frozenset({"e", "a", "en", "i", "an", "ek", "eke", "eki"})
KURMANJI_AFTER_VOWEL: Final = frozenset({"ye", "ya", "yen", "yi", "yan", "yek", "yeke", "yeki"})

_SORANI_VOWELS: Final = frozenset("اهوي")  # ا ە ۆ/و ێ/ی once normalised
_LATIN_VOWELS: Final = frozenset("aeiou")


def term_dialect(text: str) -> str:
    """SORANI or KURMANJI when the term `text` (as written) is recognisably that, else ""."""
    if text.isascii():
        return ""
    if sorani_written(text):
        return SORANI
    if not _KURMANJI_VOWELS.isdisjoint(text):
        return KURMANJI
    if not _KURMANJI_OR_TURKISH.isdisjoint(text) and _TURKISH_ONLY.isdisjoint(text):
        return KURMANJI
    return ""


def ends_in_vowel(stem: str) -> bool:
    """Does the normalised `stem` end in a vowel (which takes the suffixes after a vowel)?"""
    return stem[-1] in _SORANI_VOWELS or stem[-1] in _LATIN_VOWELS


def sorani_written(word: str) -> bool:
    """Is `word` (as written in the text) spelt with a letter only Sorani uses?"""
    return any(letter in word for letter in SORANI_LETTERS)

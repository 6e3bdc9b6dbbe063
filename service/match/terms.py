"""Turn one query atom's text into automaton keys, each with the rule that says where it may stand.

A term token becomes a set of (key, rule) variants. The matcher finds keys anywhere in the
normalised text and keeps an occurrence only if the rest of the text token around it is allowed:
a proclitic cluster before an Arabic key (both modes) and, after it, what the rule permits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from service.text import kurdish
from service.text.clitics import strip_article
from service.text.kurdish import SORANI, ends_in_vowel
from service.text.plurals import english_plurals
from service.text.tokenise import ARABIC, LETTERS

# What may follow a key inside its text token.
EXACT: Final = 0  # nothing: entity mode, Latin words, numbers
KEYWORD: Final = 1  # nothing, or one Arabic suffix (ين ات ها …) when the key has 3+ letters
NEEDS_SUFFIX: Final = 2  # a suffix is required: قاعدت+ين for قاعدة (ة written as ت before it)
FEMININE_PLURAL: Final = 3  # exactly ات: طائر+ات for طائرة
# One Kurdish suffix (service.text.kurdish) is required, from the list for a stem ending in a
# consonant or a vowel; a Sorani one only on a word written in Sorani letters (the scanner checks
# the original text). Numbered by how far the suffixes reach, which the scanner relies on.
KURMANJI_AFTER_CONSONANT: Final = 4
KURMANJI_AFTER_VOWEL: Final = 5
SORANI_AFTER_CONSONANT: Final = 6
SORANI_AFTER_VOWEL: Final = 7
PREFIX: Final = 8  # anything: the user wrote word* (the highest rule: the scanner relies on it)

KURDISH_SUFFIXES: Final = {
    KURMANJI_AFTER_CONSONANT: kurdish.KURMANJI_AFTER_CONSONANT,
    KURMANJI_AFTER_VOWEL: kurdish.KURMANJI_AFTER_VOWEL,
    SORANI_AFTER_CONSONANT: kurdish.SORANI_AFTER_CONSONANT,
    SORANI_AFTER_VOWEL: kurdish.SORANI_AFTER_VOWEL,
}
SORANI_RULES: Final = frozenset({SORANI_AFTER_CONSONANT, SORANI_AFTER_VOWEL})

KEYWORD_MODE: Final = "keyword"
ENTITY_MODE: Final = "entity"

Variant = tuple[str, int]


def _arabic_keyword(form: str) -> set[Variant]:
    variants: set[Variant] = {(form, KEYWORD if len(form) >= 3 else EXACT)}
    if form.endswith("ه") and len(form) >= 3:
        variants.add((form[:-1] + "ت", NEEDS_SUFFIX))
        variants.add((form[:-1], FEMININE_PLURAL))
    return variants


def _arabic_forms(text: str, plurals: Mapping[str, frozenset[str]]) -> set[str]:
    base = strip_article(text)
    forms = {base} | plurals.get(base, frozenset()) | plurals.get(text, frozenset())
    return {strip_article(form) for form in forms}


def _kurdish(text: str, variants: frozenset[Variant], dialect: str) -> frozenset[Variant]:
    """`variants` and, for each keyword form of 3+ letters, that form with the dialect's suffixes."""
    forms = {key for key, rule in variants if rule == KEYWORD} or {text}
    first = SORANI_AFTER_CONSONANT if dialect == SORANI else KURMANJI_AFTER_CONSONANT
    added = [(form, first + 1 if ends_in_vowel(form) else first) for form in forms if len(form) >= 3]
    return variants.union(added)


def token_variants(
    text: str,
    kind: str,
    mode: str,
    plurals: Mapping[str, frozenset[str]],
    *,
    prefix: bool = False,
    dialect: str = "",
) -> frozenset[Variant]:
    """The (key, rule) variants that one normalised term token (`text` of `kind`) may match.

    `dialect` (kurdish.term_dialect of the term as written) adds Kurdish suffixes to keywords.
    """
    variants = _variants(text, kind, mode, plurals, prefix)
    if dialect and mode == KEYWORD_MODE and not prefix:
        return _kurdish(text, variants, dialect)
    return variants


def _variants(
    text: str, kind: str, mode: str, plurals: Mapping[str, frozenset[str]], prefix: bool
) -> frozenset[Variant]:
    if prefix:
        return frozenset({(text, PREFIX)})
    if kind == ARABIC and mode == KEYWORD_MODE:
        base = strip_article(text)
        if base not in plurals and text not in plurals:  # most words: no plural table entry
            return frozenset(_arabic_keyword(strip_article(base)))
        variants: set[Variant] = set()
        for form in _arabic_forms(text, plurals):
            variants |= _arabic_keyword(form)
        return frozenset(variants)
    if kind == ARABIC:
        return frozenset([(strip_article(text), EXACT)])
    if kind == LETTERS and mode == KEYWORD_MODE:
        return frozenset([(text, EXACT), *[(plural, EXACT) for plural in english_plurals(text)]])
    return frozenset([(text, EXACT)])

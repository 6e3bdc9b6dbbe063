"""Turn one query atom's text into automaton keys, each with the rule that says where it may stand.

A term token becomes a set of (key, rule) variants. The matcher finds keys anywhere in the
normalised text and keeps an occurrence only if the rest of the text token around it is allowed:
a proclitic cluster before an Arabic key (both modes) and, after it, what the rule permits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from service.text.clitics import strip_article
from service.text.plurals import english_plurals
from service.text.tokenise import ARABIC, LETTERS

# What may follow a key inside its text token.
EXACT: Final = 0  # nothing: entity mode, Latin words, numbers
KEYWORD: Final = 1  # nothing, or one Arabic suffix (ين ات ها …) when the key has 3+ letters
NEEDS_SUFFIX: Final = 2  # a suffix is required: قاعدت+ين for قاعدة (ة written as ت before it)
FEMININE_PLURAL: Final = 3  # exactly ات: طائر+ات for طائرة
PREFIX: Final = 4  # anything: the user wrote word*

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


def token_variants(
    text: str, kind: str, mode: str, plurals: Mapping[str, frozenset[str]], *, prefix: bool = False
) -> frozenset[Variant]:
    """The (key, rule) variants that one normalised term token (`text` of `kind`) may match."""
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

"""Offline language identification (notes/arabic.md §4).

Arabic-script text is told apart by letters that only some of its languages use (31/31 headlines
right in the notes, where statistical models confuse ckb with sdh and fa with ar); everything else
goes to py3langid, whose model ships inside its wheel and is loaded once, on first use.
"""

from __future__ import annotations

from functools import cache
from typing import Protocol, cast

import py3langid.langid as langid  # type: ignore[import-untyped, unused-ignore]

from service.text.tokenise import ARABIC, tokenise

MIN_LETTERS = 12

_SORANI = frozenset("ەێۆڕڵڤ")
_URDU = frozenset("ےٹڈڑںھ")
_PERSIAN = frozenset("پچژگکی")
_ARABIC_ONLY = frozenset("ةىيكأإؤ")


class _Identifier(Protocol):
    def classify(self, text: str) -> tuple[str, float]: ...


@cache
def _identifier() -> _Identifier:
    model = langid.LanguageIdentifier.from_model_file(langid.MODEL_FILE)
    return cast(_Identifier, model)


def _letter_counts(text: str) -> tuple[int, int]:
    """(Arabic-script letters, all letters) in `text`."""
    arabic = total = 0
    for token in tokenise(text):
        if token.kind == ARABIC:
            arabic += len(token.text)
            total += len(token.text)
        elif token.kind != "N":
            total += len(token.text)
    return arabic, total


def arabic_script_language(text: str, letters: int) -> str:
    """ar, fa, ckb or ur for text written mostly in Arabic script."""
    # One stray letter (ڤ in a transliterated name) must not relabel a whole article.
    threshold = max(1, letters // 200)
    if sum(text.count(c) for c in _SORANI) >= threshold:
        return "ckb"
    if sum(text.count(c) for c in _URDU) >= threshold:
        return "ur"
    persian = sum(text.count(c) for c in _PERSIAN)
    return "fa" if persian > sum(text.count(c) for c in _ARABIC_ONLY) else "ar"


def detect_language(text: str) -> str | None:
    """ISO 639 code of the main language of `text`, or None when there is too little text."""
    arabic, letters = _letter_counts(text)
    if letters < MIN_LETTERS:
        return None
    if arabic * 2 > letters:
        return arabic_script_language(text, arabic)
    return _identifier().classify(text)[0]

"""Offline language identification.

Arabic-script text is told apart by letters that only some of its languages use and, between
Arabic and Persian, by their function words: Persian typed with Arabic ي and ك (pasted or older
text) has no Persian-only letter, but its است، این، که، را give it away (benchmarks/bench_language.py
scores the rules on short titles). Everything else goes to py3langid, whose model ships inside its
wheel and is loaded once, on first use, and reads only the first MODEL_SAMPLE characters.
"""

from __future__ import annotations

from functools import cache
from typing import Protocol, cast

import py3langid.langid as langid  # type: ignore[import-untyped, unused-ignore]

from service.text.kurdish import SORANI_LETTERS
from service.text.tokenise import ARABIC_RUNS as _ARABIC_RUNS
from service.text.tokenise import LETTER_RUNS as _LETTER_RUNS

MIN_LETTERS = 12
# The statistical model reads at most this many characters (cut at a space): its cost grows with
# the text (a Python loop per byte, ~0.8 ms per 1,000 characters), and a few sentences settle a
# Latin-script language as well as a whole article does.
MODEL_SAMPLE = 600

_SORANI = frozenset(SORANI_LETTERS)
_URDU = frozenset("ےٹڈڑںھ")
# Per word, evidence for Persian or for Arabic. Letters weigh 1 (names carry پ چ گ into Arabic text:
# الپيشمرگة), function words 2; a word is compared with ک ی folded to ك ي, so both typings count.
_PERSIAN_LETTERS = frozenset("پچژگکی")
_ARABIC_LETTERS = frozenset("ةأإؤ")
_PERSIAN_WORD_LIST = (
    "است اين كه را مي از به در با براي شد شده كرد كند شود هاي ها آن يك خود نيز اند بود خواهد "
    "نيست دارد داد گفت تا پس امروز ديروز هنوز بايد"
)
_ARABIC_WORD_LIST = (
    "في من على إلى الى عن أن التي الذي الذين مع هذا هذه بعد قال قد لم لن كان كانت حول ضد خلال "
    "منذ عند إن أو ثم حتى"
)
_PERSIAN_FOLD = str.maketrans({"ک": "ك", "ی": "ي", "ى": "ي"})
_PERSIAN_WORDS = frozenset(_PERSIAN_WORD_LIST.translate(_PERSIAN_FOLD).split())
_ARABIC_WORDS = frozenset(_ARABIC_WORD_LIST.translate(_PERSIAN_FOLD).split())
_FUNCTION_WORD = 2


# Every code detect_language can return that a watchlist may name, with its English name: the
# statistical model's ISO 639-1 codes (py3langid 0.4; a test holds this table to the model, which
# takes a second to load) and ckb, which the Arabic-script rule returns for Sorani (it has no
# two-letter code). The model's three-letter codes (dialects and varieties) are switched off.
LANGUAGE_NAMES = {
    "af": "afrikaans", "am": "amharic", "an": "aragonese", "ar": "arabic", "as": "assamese",
    "az": "azerbaijani", "ba": "bashkir", "be": "belarusian", "bg": "bulgarian", "bn": "bengali",
    "br": "breton", "bs": "bosnian", "ca": "catalan", "ckb": "sorani", "cs": "czech", "cy": "welsh",
    "da": "danish", "de": "german", "dz": "dzongkha", "el": "greek", "en": "english",
    "eo": "esperanto", "es": "spanish", "et": "estonian", "eu": "basque", "fa": "persian",
    "fi": "finnish", "fo": "faroese", "fr": "french", "fy": "frisian", "ga": "irish",
    "gd": "scottish gaelic", "gl": "galician", "gu": "gujarati", "ha": "hausa", "he": "hebrew",
    "hi": "hindi", "hr": "croatian", "ht": "haitian creole", "hu": "hungarian", "hy": "armenian",
    "id": "indonesian", "ig": "igbo", "is": "icelandic", "it": "italian", "ja": "japanese",
    "jv": "javanese", "ka": "georgian", "kk": "kazakh", "km": "khmer", "kn": "kannada",
    "ko": "korean", "ku": "kurdish", "ky": "kyrgyz", "la": "latin", "lb": "luxembourgish",
    "lg": "ganda", "ln": "lingala", "lo": "lao", "lt": "lithuanian", "lv": "latvian",
    "mg": "malagasy", "mk": "macedonian", "ml": "malayalam", "mn": "mongolian", "mr": "marathi",
    "ms": "malay", "mt": "maltese", "my": "burmese", "ne": "nepali", "nl": "dutch",
    "nn": "norwegian nynorsk", "no": "norwegian", "oc": "occitan", "om": "oromo", "or": "odia",
    "pa": "punjabi", "pl": "polish", "ps": "pashto", "pt": "portuguese", "qu": "quechua",
    "ro": "romanian", "ru": "russian", "rw": "kinyarwanda", "sa": "sanskrit", "se": "northern sami",
    "si": "sinhala", "sk": "slovak", "sl": "slovenian", "sn": "shona", "so": "somali",
    "sq": "albanian", "sr": "serbian", "st": "sotho", "sv": "swedish", "sw": "swahili",
    "ta": "tamil", "te": "telugu", "tg": "tajik", "th": "thai", "tk": "turkmen", "tl": "tagalog",
    "tr": "turkish", "tt": "tatar", "ug": "uyghur", "uk": "ukrainian", "ur": "urdu", "uz": "uzbek",
    "vi": "vietnamese", "vo": "volapük", "wa": "walloon", "xh": "xhosa", "yo": "yoruba",
    "zh": "chinese", "zu": "zulu",
}  # fmt: skip
_OTHER_NAMES = {
    "farsi": "fa", "central kurdish": "ckb", "kurmanji": "ku", "bangla": "bn", "filipino": "tl",
    "oriya": "or", "luganda": "lg", "gaelic": "gd", "haitian": "ht", "mandarin": "zh",
    "western frisian": "fy", "sesotho": "st", "sami": "se", "nynorsk": "nn", "uighur": "ug",
}  # fmt: skip
_CODES_BY_NAME = {name: code for code, name in LANGUAGE_NAMES.items()} | _OTHER_NAMES


def language_code(code: str) -> str:
    """ar-IQ → ar: watchlist language filters compare primary subtags."""
    return code.strip().lower().split("-")[0].split("_")[0]


def unknown_language(code: str) -> str | None:
    """Why a watchlist cannot filter on `code` (a language tag), or None when it can."""
    if language_code(code) in LANGUAGE_NAMES:
        return None
    named = _CODES_BY_NAME.get(" ".join(code.lower().replace("_", " ").split()))
    if named is not None:
        return f"{code!r} is a language name; write its code {named!r}"
    return f"{code!r} is not a language code the detector returns (ISO 639-1, such as 'ar', 'fa' or 'en')"


class _Identifier(Protocol):
    def classify(self, text: str) -> tuple[str, float]: ...


@cache
def _identifier() -> _Identifier:
    model = langid.LanguageIdentifier.from_model_file(langid.MODEL_FILE)
    # Only the codes a watchlist can name: unrestricted, the model took 6 of 30 short English
    # titles for Nigerian Pidgin (pcm), which no `languages = ["en"]` watchlist would see.
    model.set_languages([code for code in model.nb_classes if code in LANGUAGE_NAMES])
    return cast(_Identifier, model)


def _letter_counts(text: str) -> tuple[int, int]:
    """(Arabic-script letters, all letters) in `text`: the lengths of its word tokens by kind.

    Word tokens are maximal runs of one class, so the runs' lengths add up without building a
    Token per word (a few hundred per article, for each item of a feed without a language).
    """
    arabic = sum(map(len, _ARABIC_RUNS.findall(text)))
    return arabic, arabic + sum(map(len, _LETTER_RUNS.findall(text)))


def arabic_script_language(text: str, letters: int) -> str:
    """ar, fa, ckb or ur for text written mostly in Arabic script."""
    # One stray letter (ڤ in a transliterated name) must not relabel a whole article.
    threshold = max(1, letters // 200)
    if sum(text.count(c) for c in _SORANI) >= threshold:
        return "ckb"
    if sum(text.count(c) for c in _URDU) >= threshold:
        return "ur"
    sample = _model_sample(text)
    persian, arabic = persian_evidence(_ARABIC_RUNS.findall(sample))
    # ZWNJ joins Persian affixes (می‌کند، موشک‌ها); Arabic has no use for it.
    return "fa" if persian + sample.count("\u200c") > arabic else "ar"


def persian_evidence(words: list[str]) -> tuple[int, int]:
    """(Persian, Arabic) weight of evidence in Arabic-script `words` (split at ZWNJ, as found)."""
    persian = arabic = 0
    for word in words:
        folded = word.translate(_PERSIAN_FOLD)
        if folded in _PERSIAN_WORDS:
            persian += _FUNCTION_WORD
        elif folded in _ARABIC_WORDS:
            arabic += _FUNCTION_WORD
        elif folded.startswith("ال") and len(folded) > 3:
            arabic += 1  # the article, which Persian keeps only in Arabic loans
        persian += not _PERSIAN_LETTERS.isdisjoint(word)
        arabic += not _ARABIC_LETTERS.isdisjoint(word)
    return persian, arabic


def detect_language(text: str) -> str | None:
    """ISO 639 code of the main language of `text`, or None when there is too little text."""
    arabic, letters = _letter_counts(text)
    if letters < MIN_LETTERS:
        return None
    if arabic * 2 > letters:
        return arabic_script_language(text, arabic)
    return _identifier().classify(_model_sample(text))[0]


def _model_sample(text: str) -> str:
    """At most MODEL_SAMPLE characters of `text`, ending before a space when one is near."""
    if len(text) <= MODEL_SAMPLE:
        return text
    cut = text.rfind(" ", MODEL_SAMPLE // 2, MODEL_SAMPLE)
    return text[: cut if cut > 0 else MODEL_SAMPLE]

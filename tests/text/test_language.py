"""detect_language tells ar, fa, ckb, ur and en apart offline, and abstains on too little text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.text import detect_language, tokenise
from service.text.language import LANGUAGE_NAMES, _letter_counts, language_code, unknown_language
from service.text.tokenise import ARABIC, NUMBER


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("زيارة مرفقة بهجمات… قاآني يصل بغداد للقاء قادة الفصائل", "ar"),
        ("حمله موشکی به فرودگاه بغداد انجام شد و یک پهپاد سرنگون شد", "fa"),
        ("هێرشی مووشەکی بۆ سەر فڕۆکەخانەی هەولێر کرا", "ckb"),
        ("بغداد ہوائی اڈے پر راکٹ حملہ، کوئی جانی نقصان نہیں ہوا", "ur"),
        ("Rockets hit a base near Baghdad International Airport on Wednesday", "en"),
    ],
)
def test_detect_language_names_the_language(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize("text", ["", "ok", "بغداد", "  3 4 5  "])
def test_detect_language_abstains_on_too_little_text(text: str) -> None:
    assert detect_language(text) is None


def test_one_stray_sorani_letter_does_not_relabel_an_arabic_article(seed_text: str) -> None:
    assert detect_language(seed_text + " ڤيكتوريا") == "ar"


def _letter_counts_by_tokens(text: str) -> tuple[int, int]:
    """The definition: letters of Arabic-script tokens, and of all word tokens (not numbers)."""
    arabic = total = 0
    for token in tokenise(text):
        if token.kind == ARABIC:
            arabic += len(token.text)
        if token.kind != NUMBER:
            total += len(token.text)
    return arabic, total


@given(
    st.text() | st.text(alphabet=st.sampled_from(list("بغداد قاآني مُصْطَفَى ـ 3.5 NATO Türkiye ۳ ڤ ę\u0301,")))
)
def test_letters_are_counted_as_the_tokens_count_them(text: str) -> None:
    assert _letter_counts(text) == _letter_counts_by_tokens(text)


def test_the_watchlist_codes_are_the_models_two_letter_codes_and_the_arabic_script_ones() -> None:
    import py3langid.langid as langid

    model = langid.LanguageIdentifier.from_model_file(langid.MODEL_FILE)
    two_letter = {code for code in model.nb_classes if len(code) == 2}
    assert set(LANGUAGE_NAMES) == two_letter | {"ar", "fa", "ckb", "ur"}


@pytest.mark.parametrize(
    ("tag", "code"),
    [("ar", "ar"), ("AR", "ar"), (" ar-IQ ", "ar"), ("fa_IR", "fa"), ("ckb", "ckb"), ("", "")],
)
def test_a_language_tag_compares_by_its_primary_subtag(tag: str, code: str) -> None:
    assert language_code(tag) == code


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("ar", None),
        ("ar-IQ", None),
        ("Arabic", "'Arabic' is a language name; write its code 'ar'"),
        ("sorani", "'sorani' is a language name; write its code 'ckb'"),
        ("scottish  gaelic", "'scottish  gaelic' is a language name; write its code 'gd'"),
        ("ara", "'ara' is not a language code the detector returns (ISO 639-1, such as 'ar', 'fa' or 'en')"),
    ],
)
def test_a_code_the_detector_never_returns_is_explained(code: str, problem: str | None) -> None:
    assert unknown_language(code) == problem

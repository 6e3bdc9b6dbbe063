"""detect_language tells ar, fa, ckb, ur, en, tr and he apart offline, and abstains on too little text."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.text import detect_language, tokenise
from service.text.language import (
    _letter_counts,
    persian_evidence,
)
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


@pytest.mark.parametrize(
    ("text", "language"),
    [
        # Persian typed with Arabic ي and ك, some without one Persian-only letter
        ("ايران از آمريكا خواست كه تحريم ها را لغو كند", "fa"),
        ("اين حمله به سفارت در بغداد محكوم شد", "fa"),
        ("بازداشت دو جاسوس در تبريز", "fa"),
        ("وزير خارجه ايران امروز به مسكو مي رود", "fa"),
        ("موشک‌های بالستیک شلیک شد", "fa"),  # ZWNJ
        # Arabic with Iranian names and Iraqi spellings that carry Persian letters
        ("بزشكيان يلتقي السوداني في طهران لبحث ملف الحدود", "ar"),
        ("الپيشمرگة تصد هجوما لداعش في مخمور", "ar"),
        ("گروب الحشد في چمچمال تنفي الاتهامات", "ar"),
        ("عزيز نصير زاده: برنامجنا الصاروخي غير قابل للتفاوض", "ar"),
        # Sorani, Turkish, Hebrew; English short titles are not taken for Nigerian Pidgin
        ("پۆلیس دوو تۆمەتبار دەستگیر دەکات", "ckb"),
        ("Kerkük'te bombalı araç patladı", "tr"),
        ('צה"ל תקף מטרות של חיזבאללה בדרום לבנון', "he"),
        ("Gunmen kidnap aid worker in Kirkuk", "en"),
        ("Kurdish parliament postpones election again", "en"),
    ],
)
def test_short_titles_get_their_language(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize(
    ("words", "evidence"),
    [
        (["است", "را"], (4, 0)),  # function words weigh 2
        (["كه", "مي"], (4, 0)),  # Arabic ي and ك: the same words
        (["في", "الحدود"], (0, 3)),  # a function word and the article
        (["على", "الى"], (0, 4)),  # alef maksura, which Persian typed on Arabic keys writes too
        (["پیشمرگه"], (1, 0)),  # a Persian letter weighs 1 a word, however many it holds
        (["مسؤولية"], (0, 1)),
    ],
)
def test_persian_and_arabic_evidence_is_weighed_per_word(words: list[str], evidence: tuple[int, int]) -> None:
    assert persian_evidence(words) == evidence


def test_the_labelled_titles_are_detected_with_their_language() -> None:
    """The fixture benchmarks/bench_language.py scores: at least 29 of each language's ~30."""
    path = Path(__file__).parents[1] / "fixtures" / "language-titles.tsv"
    rows = [line.split("\t", 1) for line in path.read_text(encoding="utf-8").splitlines() if line[:1] != "#"]
    wrong = Counter(language for language, title in rows if detect_language(title) != language)
    assert all(count <= 2 for count in wrong.values()), wrong
    assert sum(wrong.values()) <= 4, wrong


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


def test_the_model_returns_only_codes_a_watchlist_can_name() -> None:
    from service.text.language import LANGUAGE_NAMES, _identifier

    classes = set(_identifier().nb_classes)  # type: ignore[attr-defined]
    assert classes == set(LANGUAGE_NAMES) - {"ckb"}

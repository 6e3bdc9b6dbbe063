"""detect_language tells ar, fa, ckb, ur and en apart offline, and abstains on too little text."""

from __future__ import annotations

import pytest

from service.text import detect_language


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

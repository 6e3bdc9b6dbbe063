"""Plural forms added on the term side: a compiled term also matches its plurals.

No light stemmer maps صاروخ to صواريخ; a curated table of security-news nouns does, and
`Vocabulary.plurals` extends it. Sound plurals (ـون ـين ـات) need no entry: the suffix rules cover
them. English gets regular plural spelling rules and a few irregular nouns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from service.text.normalise import normalise

# One group per line: singular, then its plurals and common variant spellings.
_ARABIC_GROUPS = """
صاروخ صواريخ
قاعدة قواعد
قذيفة قذائف
فصيل فصائل
ميليشيا مليشيا ميليشيات مليشيات
كتيبة كتائب
هجوم هجمات هجمة
جندي جنود
ضابط ضباط
قائد قادة
سلاح أسلحة
مدفع مدافع
لغم ألغام
قنبلة قنابل
موقع مواقع
حاجز حواجز
مخزن مخازن
سجن سجون
رهينة رهائن
أسير أسرى
قتيل قتلى
جريح جرحى
ضحية ضحايا
شهيد شهداء
حزب أحزاب
لواء ألوية
فيلق فيالق
فوج أفواج
سرية سرايا
خلية خلايا
زعيم زعماء
وزير وزراء
نائب نواب
سفير سفراء
رئيس رؤساء
قاض قاضي قضاة
حد حدود
منفذ منافذ
معبر معابر
طريق طرق
جسر جسور
مدينة مدن
قرية قرى
حي أحياء
شارع شوارع
مبنى مباني
منزل منازل
بيت بيوت
مسجد مساجد
كنيسة كنائس
مدرسة مدارس
صهريج صهاريج
زورق زوارق
سفينة سفن
بارجة بوارج
رصاصة رصاص
قناص قناصة
هدف أهداف
مصدر مصادر
تقرير تقارير
فرقة فرق
قوة قوات
جيش جيوش
حشد حشود
ميدان ميادين
حقل حقول
بئر آبار
أنبوب أنابيب
خط خطوط
رأس رؤوس
حزام أحزمة
قافلة قوافل
نقطة نقاط
مكتب مكاتب
ميناء موانئ
جزيرة جزر
حدث أحداث
حرب حروب
معركة معارك
هدنة هدن
اتفاق اتفاقات اتفاقيات
عشيرة عشائر
قبيلة قبائل
شيخ شيوخ
مرتزق مرتزقة
مسلح مسلحون مسلحين
مقاتل مقاتلون مقاتلين
مستشار مستشارون مستشارين
طائرة طائرات
مسيرة مسيرات
درون درونات
مروحية مروحيات
دبابة دبابات
مدرعة مدرعات
آلية آليات
عبوة عبوات
مفخخة مفخخات
غارة غارات
ضربة ضربات
اغتيال اغتيالات
اشتباك اشتباكات
انفجار انفجارات
تفجير تفجيرات
عملية عمليات
انتحاري انتحاريون انتحاريين
إرهابي إرهابيون إرهابيين
متظاهر متظاهرون متظاهرين
معسكر معسكرات
مستودع مستودعات
منشأة منشآت
سفارة سفارات
قنصلية قنصليات
مطار مطارات
مستشفى مستشفيات
سيارة سيارات
شاحنة شاحنات
عربة عربات
ناقلة ناقلات
منظومة منظومات
بطارية بطاريات
راجمة راجمات
قاذفة قاذفات
مقاتلة مقاتلات
رادار رادارات
دورية دوريات
ثكنة ثكنات
مقر مقرات
مخيم مخيمات
لاجئ لاجئون لاجئين
نازح نازحون نازحين
عقوبة عقوبات
شحنة شحنات
مخدر مخدرات
إصابة إصابات
جبهة جبهات
صراع صراعات
نزاع نزاعات
احتجاج احتجاجات
مظاهرة مظاهرات
اعتقال اعتقالات
"""

_ENGLISH_IRREGULAR: Final[Mapping[str, str]] = {
    "man": "men",
    "woman": "women",
    "child": "children",
    "person": "people",
    "militiaman": "militiamen",
    "gunman": "gunmen",
    "policeman": "policemen",
    "serviceman": "servicemen",
    "crisis": "crises",
    "thesis": "theses",
    "analysis": "analyses",
    "mouse": "mice",
    "foot": "feet",
    "life": "lives",
    "wife": "wives",
    "knife": "knives",
    "leaf": "leaves",
    "thief": "thieves",
}


def _groups(lines: Iterable[Iterable[str]]) -> dict[str, frozenset[str]]:
    """Each normalised form → every form of its group (singular and plurals alike)."""
    index: dict[str, frozenset[str]] = {}
    for line in lines:
        group = frozenset(normalise(word) for word in line)
        merged = group.union(*(index.get(word, frozenset()) for word in group))
        for word in merged:
            index[word] = merged
    return index


ARABIC_PLURALS: Final = _groups(line.split() for line in _ARABIC_GROUPS.strip().splitlines())


def plural_index(extra: Mapping[str, tuple[str, ...]]) -> dict[str, frozenset[str]]:
    """The built-in table merged with `Vocabulary.plurals` (singular → plurals)."""
    lines = [line.split() for line in _ARABIC_GROUPS.strip().splitlines()]
    lines.extend([singular, *plurals] for singular, plurals in extra.items())
    return _groups(lines) if extra else dict(ARABIC_PLURALS)


def english_plurals(word: str) -> tuple[str, ...]:
    """Regular (and a few irregular) plural spellings of a normalised English noun."""
    if word in _ENGLISH_IRREGULAR:
        return (_ENGLISH_IRREGULAR[word],)
    if len(word) < 2 or not word.isalpha():
        return ()
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return (word + "es",)
    if word.endswith("y") and word[-2] not in "aeiou":
        return (word[:-1] + "ies",)
    return (word + "s",)

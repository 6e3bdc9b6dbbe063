"""Arabic clitic rules for whole-word matching.

The matcher finds a term key inside a normalised token and asks two questions: may what stands
before it be stripped as a proclitic, and may what stands after it be stripped as a suffix? All
strings here are in normalised form (ة → ه, أ → ا, ى → ي).
"""

from __future__ import annotations

from typing import Final

from service.text.normalise import normalise

# Article clusters (the definite article, alone or after a conjunction and/or preposition).
# لل is ل + ال with the alef dropped in writing.
ARTICLE_CLUSTERS: Final = frozenset(
    {"ال", "وال", "فال", "بال", "كال", "لل", "ولل", "فلل", "وبال", "فبال", "وكال", "فكال"}
)
# A conjunction, a preposition, or conjunction + preposition/future marker.
SHORT_PROCLITICS: Final = frozenset({"و", "ف", "ب", "ل", "ك", "وب", "ول", "وك", "وس", "فب", "فل", "فك", "فس"})
MAX_PROCLITIC: Final = 4

# Pronoun, dual, plural and accusative endings; one of them may follow a keyword term.
SUFFIXES: Final = frozenset(
    {
        "هما", "كما", "تين", "تان", "يين", "يون", "يات", "هاي",
        "هم", "هن", "كم", "نا", "ها", "ات", "ان", "ين", "ون", "يه",
        "ه", "ي", "ك", "ا",
    }
)  # fmt: skip
MAX_SUFFIX: Final = 3

# Whole words that begin with و ف ب ل ك but are not clitic + word: stripping them would turn
# كمال into ك+مال or وزارة into و+زارة ("visited her"). Consulted only when 3 or 4 letters remain,
# where 22–68% of such strips (measured over a 42,000-word lexicon) leave another real word.
_GUARD_WORDS = """
كمال كلام كتاب كتابه كبير كبيره كثير كثيره كريم كريمه كرام كلمه كليه كليات كتيبه كتله كرسي كرامه
كامل كافه كافي كاتب كاس كان كانت كانوا كما كلما كيف كذلك كنيسه كهرباء كيان كويت كوارث كمين
وزير وزاره وزراء وطني وطنيه وفاه وفاق وفد وقت وقف وقفه وكاله ولايه ولد والد والده واحد واحده
واضح واضحه واقع واقعه وادي وجه وجود وحده وحيد وراء وزن وسط وسيله وصول وضع وعد وفق وقع ولي
ورقه وسام وزيره وداع وثيقه واجب واسع واسعه وقود
فريق فرقه فرصه فكره فقير فقط فوق فيلق فيلم فندق فصل فصيل فعل فعاليه فتره فتح فرع فرنسا فلاح
فراغ فساد فضل فضيحه فلسفه فوز فيروس فارس فاعل فائده فيه فيها
بلاد بلده بلدي بيان بيت بيروت بريد بحيره بحث بحر بعيد بعيده بناء بنك بنت بنات باب بارد بخير
برج برلمان برنامج بشر بشري بطل بطاله بطاقه بلديه بيئه بيع بين بينما بعض بعد بقاء بقيه
لبنان لجنه لجان لقاء لواء لحظه لغه لعبه لقب لون ليبيا لاعب لازم لائحه ليله ليلي لحم لسان لكن
لقد لدي لدى
"""
LEXICON_GUARD: Final = frozenset(normalise(word) for word in _GUARD_WORDS.split())


def proclitic_allowed(prefix: str, token: str, remainder: int) -> bool:
    """May `prefix` (the start of `token` before a term) be stripped, leaving `remainder` letters?"""
    if not prefix:
        return True
    if prefix in ARTICLE_CLUSTERS:
        return remainder >= 2
    if prefix not in SHORT_PROCLITICS or remainder < 3:
        return False
    return remainder > 4 or token not in LEXICON_GUARD


def strip_article(word: str) -> str:
    """Drop a leading ال from a term word when at least 3 letters remain (الف stays الف)."""
    if word.startswith("ال") and len(word) >= 5:
        return word[2:]
    return word

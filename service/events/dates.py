"""The days a report says its event happened on, read from its normalised text.

Reports of one event name its day in their own way: "Wednesday night", "مساء الأربعاء", "چهارشنبه شب",
"شەوی چوارشەممە", "yesterday", "أمس", "9 June", "٩ حزيران/يونيو", "۱۹ خرداد", "2021/06/09", "۱۴۰۰/۳/۱۹".
Each is resolved against the report's publication time, on the region's clock (UTC+3: a report posted
at 22:00Z on a Wednesday is already Thursday in Baghdad), to a Gregorian calendar day: a weekday is the
latest such day on or before publication, "yesterday" the day before it, a day and month without a year
the nearest such date. Solar Hijri dates (Persian month names, the Kurdish solar months, numeric
dates with a year below 1500) are converted.

Pure: no I/O, no clock (the publication time is given).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import cache

from service.text import normalise

LOCAL_OFFSET = timedelta(hours=3)
# A day and month without a year is read in the year that puts it nearest to publication, and only
# when that is at most this far away (further off, it is background, not the day of the event).
NEAREST_DAYS = 120

_WEEKDAYS = {  # Monday = 0
    0: ["monday", "الاثنين", "الإثنين", "يوم الاثنين", "دوشنبه", "دو شنبه", "دووشەممە", "دوو شەممە"],
    1: ["tuesday", "الثلاثاء", "سه‌شنبه", "سه شنبه", "سێشەممە", "سێ شەممە"],
    2: ["wednesday", "الأربعاء", "الاربعاء", "چهارشنبه", "چهار شنبه", "چوارشەممە", "چوار شەممە"],
    3: ["thursday", "الخميس", "پنجشنبه", "پنج‌شنبه", "پنج شنبه", "پێنجشەممە", "پێنج شەممە"],
    4: ["friday", "الجمعة", "جمعه", "هەینی", "ھەینی"],
    5: ["saturday", "السبت", "شنبه", "شەممە"],
    6: ["sunday", "الأحد", "الاحد", "یکشنبه", "یک‌شنبه", "یک شنبه", "یەکشەممە", "یەک شەممە"],
}
_RELATIVE = {
    0: ["today", "tonight", "earlier today", "اليوم", "الليلة", "امروز", "امشب", "ئەمڕۆ", "ئەمشەو"],
    -1: [
        "yesterday",
        "last night",
        "أمس",
        "امس",
        "البارحة",
        "الليلة الماضية",
        "ليلة أمس",
        "دیروز",
        "دیشب",
        "دوێنێ",
        "دوێنی",
        "دوێنێ شەو",
    ],
}
_GREGORIAN = [
    ["january", "jan", "كانون الثاني", "يناير", "ژانویه", "ژانویهٔ", "کانوونی دووەم", "جانیوەری"],
    ["february", "feb", "شباط", "فبراير", "فوریه", "شوبات", "فێبریوەری"],
    ["march", "mar", "آذار", "مارس", "ئازار", "مارچ"],
    ["april", "apr", "نيسان", "أبريل", "ابريل", "إبريل", "آوریل", "نیسان", "ئەپریل"],
    ["may", "أيار", "مايو", "مه", "مِه", "ئایار", "مەی"],
    ["june", "jun", "حزيران", "يونيو", "يونيه", "ژوئن", "حوزەیران", "جوون"],
    ["july", "jul", "تموز", "يوليو", "يوليه", "ژوئیه", "ژوئيه", "تەممووز", "تەمموز", "جولای"],
    ["august", "aug", "آب", "أغسطس", "اغسطس", "اوت", "آگوست", "ئاب", "ئۆگەست"],
    ["september", "sep", "sept", "أيلول", "سبتمبر", "سپتامبر", "ئەیلوول", "ئەیلول", "سێپتەمبەر"],
    ["october", "oct", "تشرين الأول", "أكتوبر", "اكتوبر", "اکتبر", "تشرینی یەکەم", "ئۆکتۆبەر"],
    ["november", "nov", "تشرين الثاني", "نوفمبر", "نوامبر", "تشرینی دووەم", "نۆڤەمبەر"],
    ["december", "dec", "كانون الأول", "ديسمبر", "دسامبر", "کانوونی یەکەم", "دیسەمبەر"],
]
_SOLAR = [
    ["فروردین", "خاکەلێوە"],
    ["اردیبهشت", "گوڵان"],
    ["خرداد", "جۆزەردان"],
    ["تیر", "پووشپەڕ"],
    ["مرداد", "امرداد", "گەلاوێژ"],
    ["شهریور", "خەرمانان"],
    ["مهر", "ڕەزبەر"],
    ["آبان", "گەڵاڕێزان", "خەزەڵوەر"],
    ["آذر", "سەرماوەز"],
    ["دی", "بەفرانبار"],
    ["بهمن", "ڕێبەندان"],
    ["اسفند", "ڕەشەمە"],
]


@cache
def _tables() -> tuple[re.Pattern[str], dict[str, tuple[str, int]]]:
    """One pattern over normalised text, and what each normalised phrase it finds stands for."""
    meaning: dict[str, tuple[str, int]] = {}
    for day, names in _WEEKDAYS.items():
        meaning.update({normalise(n): ("weekday", day) for n in names})
    for offset, names in _RELATIVE.items():
        meaning.update({normalise(n): ("relative", offset) for n in names})
    months: dict[str, tuple[str, int]] = {}
    for number, names in enumerate(_GREGORIAN, start=1):
        months.update({normalise(n): ("g", number) for n in names})
    for number, names in enumerate(_SOLAR, start=1):
        months.update({normalise(n): ("j", number) for n in names})
    words = "|".join(re.escape(p) for p in sorted(meaning, key=len, reverse=True))
    weekday = "|".join(
        re.escape(p)
        for p in sorted((p for p, v in meaning.items() if v[0] == "weekday"), key=len, reverse=True)
    )
    month = "|".join(re.escape(p) for p in sorted(months, key=len, reverse=True))
    named = rf"(?:(?:{weekday})[\s,،]+)?"  # "Thursday 10 June 2021": the weekday belongs to the date
    pattern = re.compile(
        rf"(?<![\w/.-]){named}(?P<y1>\d{{4}})[/.-](?P<m1>\d{{1,2}})[/.-](?P<d1>\d{{1,2}})(?![\w/.-])"
        rf"|(?<![\w/.-]){named}(?P<d2>\d{{1,2}})[/.-](?P<m2>\d{{1,2}})[/.-](?P<y2>\d{{4}})(?![\w/.-])"
        rf"|(?<![\w]){named}(?P<d3>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+|من\s+)?(?P<mn3>{month})"
        rf"(?:[\s/]+(?:\w+[\s/]+)?(?P<y3>\d{{4}}))?(?!\w)"
        rf"|(?<![\w]){named}(?P<mn4>{month})\s+(?P<d4>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y4>\d{{4}}))?(?![\w:])"
        rf"|(?<![\w])(?P<word>{words})(?!\w)"
    )
    return pattern, {**meaning, **{f"month {k}": v for k, v in months.items()}}


def day_spans(norm: str) -> list[tuple[int, int]]:
    """Where `norm` names a day or a date (so the numbers inside are not read as counts)."""
    pattern, _ = _tables()
    return [m.span() for m in pattern.finditer(norm)]


def event_days(norm: str, published: datetime) -> frozenset[date]:
    """The calendar days `norm` (normalised text) names, resolved against `published` (aware UTC).

    A full date with its year on the day of publication (on the region's clock) is taken for the
    page's own date stamp ("آخر تحديث: الخميس 10 حزيران 2021"), not for the day of what it reports,
    and left out."""
    pattern, meaning = _tables()
    local = (published + LOCAL_OFFSET).date()
    stamps = {local}
    found: set[date] = set()
    for m in pattern.finditer(norm):
        day = _resolve(m, meaning, local)
        if day is None or (_has_year(m) and day in stamps):
            continue
        found.add(day)
    return frozenset(found)


def _has_year(m: re.Match[str]) -> bool:
    return any(m[g] for g in ("y1", "y2", "y3", "y4"))


def _resolve(m: re.Match[str], meaning: dict[str, tuple[str, int]], local: date) -> date | None:
    if m["y1"] or m["y2"]:
        if m["y1"]:
            year, month, day = int(m["y1"]), int(m["m1"]), int(m["d1"])
        else:
            year, month, day = int(m["y2"]), int(m["m2"]), int(m["d2"])
        return _calendar_day("j" if year < 1500 else "g", year, month, day)
    if m["word"]:
        kind, value = meaning[m["word"]]
        if kind == "relative":
            return local + timedelta(days=value)
        return local - timedelta(days=(local.weekday() - value) % 7)
    name, number = (m["mn3"], m["d3"]) if m["mn3"] else (m["mn4"], m["d4"])
    calendar, month = meaning[f"month {name}"]
    written = m["y3"] or m["y4"]
    if written:
        return _calendar_day(calendar, int(written), month, int(number))
    return _nearest(calendar, month, int(number), local)


def _nearest(calendar: str, month: int, day: int, local: date) -> date | None:
    """The date with this month and day nearest to `local`, if near enough."""
    base = local.year if calendar == "g" else gregorian_to_jalali(local)[0]
    options = [d for y in (base - 1, base, base + 1) if (d := _calendar_day(calendar, y, month, day))]
    if not options:
        return None
    best = min(options, key=lambda d: abs((d - local).days))
    return best if abs((best - local).days) <= NEAREST_DAYS else None


def _calendar_day(calendar: str, year: int, month: int, day: int) -> date | None:
    try:
        if calendar == "g":
            return date(year, month, day)
        if not (1 <= month <= 12 and 1 <= day <= (31 if month <= 6 else 30)):
            return None
        return jalali_to_gregorian(year, month, day)
    except ValueError:
        return None


# The Solar Hijri calendar: months 1-6 have 31 days, 7-11 have 30, Esfand 29 or 30. Its years are
# counted here by the arithmetic 33-year cycle (eight leap years per cycle), which agrees with the
# observed calendar for the years news is written in.
_EPOCH = date(622, 3, 21).toordinal()  # 1 Farvardin 1 (proleptic Gregorian)


def _days_before_year(year: int) -> int:
    """Days from 1 Farvardin 1 to 1 Farvardin `year`."""
    prior = year - 1
    return 365 * prior + (8 * prior + 29) // 33


def jalali_to_gregorian(year: int, month: int, day: int) -> date:
    days = _days_before_year(year) + (month - 1) * 31 - max(0, month - 7) + day - 1
    return date.fromordinal(_EPOCH + days)


def gregorian_to_jalali(moment: date) -> tuple[int, int, int]:
    days = moment.toordinal() - _EPOCH
    year = max(1, (33 * days) // 12053 + 1)
    while _days_before_year(year + 1) <= days:
        year += 1
    while _days_before_year(year) > days:
        year -= 1
    rest = days - _days_before_year(year)
    month = rest // 31 + 1 if rest < 186 else (rest - 186) // 30 + 7
    day = rest - ((month - 1) * 31 - max(0, month - 7)) + 1
    return year, month, day

"""The days a report names, resolved against its publication time on the region's clock."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from service.events.dates import event_days, gregorian_to_jalali, jalali_to_gregorian
from service.text import normalise

# A Wednesday evening in Baghdad (UTC+3): 20:00 local.
WEDNESDAY = datetime(2021, 6, 9, 17, 0, tzinfo=UTC)


def days(text: str, published: datetime = WEDNESDAY) -> list[str]:
    return sorted(d.isoformat() for d in event_days(normalise(text), published))


@pytest.mark.parametrize(
    "text",
    [
        "مساء الأربعاء",
        "Wednesday night",
        "چهارشنبه شب",
        "شەوی چوارشەممە",
        "today",
        "اليوم",
        "on June 9",
        "9th of June",
        "٩ حزيران/يونيو",
        "۱۹ خرداد",
        "19 جۆزەردان",
        "٩ يونيو",
    ],
)
def test_the_same_day_is_read_in_every_language_and_calendar(text: str) -> None:
    assert days(text) == ["2021-06-09"]


def test_relative_days_and_weekdays_count_back_from_publication() -> None:
    assert days("yesterday") == days("أمس") == days("دیروز") == days("دوێنێ") == ["2021-06-08"]
    assert days("on Thursday") == ["2021-06-03"]  # the latest Thursday on or before publication
    assert days("سه‌شنبه") == days("الثلاثاء") == ["2021-06-08"]  # Tuesday, not Saturday (شنبه)


def test_a_late_report_is_read_on_baghdads_clock() -> None:
    after_midnight_local = datetime(2021, 6, 9, 22, 30, tzinfo=UTC)  # 01:30 on Thursday in Baghdad
    assert days("today", after_midnight_local) == ["2021-06-10"]
    assert days("Wednesday night", after_midnight_local) == ["2021-06-09"]


def test_a_page_date_stamp_is_not_the_day_of_the_event() -> None:
    stamp = "آخر تحديث: الأربعاء 9 حزيران 2021 - 09:15 بتوقيت بغداد"
    assert days(stamp) == []
    assert days("Wednesday, June 9, 2021") == []
    assert days("on 2 June 2021") == ["2021-06-02"]  # a full date of another day is kept


def test_a_day_and_month_far_from_publication_is_not_taken() -> None:
    assert days("9 December") == []
    assert days("2 January", datetime(2021, 12, 30, tzinfo=UTC)) == ["2022-01-02"]


@pytest.mark.parametrize(
    ("jalali", "gregorian"),
    [
        ((1400, 1, 1), date(2021, 3, 21)),
        ((1400, 3, 19), date(2021, 6, 9)),
        ((1399, 12, 30), date(2021, 3, 20)),  # a leap Esfand
        ((1403, 1, 1), date(2024, 3, 20)),
        ((1404, 1, 1), date(2025, 3, 21)),
        ((1380, 1, 1), date(2001, 3, 21)),
    ],
)
def test_solar_hijri_dates_convert_both_ways(jalali: tuple[int, int, int], gregorian: date) -> None:
    assert jalali_to_gregorian(*jalali) == gregorian
    assert gregorian_to_jalali(gregorian) == jalali

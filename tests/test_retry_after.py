"""Retry-After: delay-seconds or an HTTP-date, total on any text and never past the caller's cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.feeds.schedule import MAX_RETRY_AFTER as FEED_CAP
from service.retry_after import parse_retry_after
from service.sinks.base import MAX_RETRY_AFTER as SINK_CAP
from service.sinks.http import parse_retry_after_seconds

NOW = datetime(2021, 6, 10, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3600", 3600.0),
        ("7", 7.0),
        ("0", 0.0),
        (" 120 ", 120.0),
        ("1.5", 1.5),  # not in the RFC's grammar, but unambiguous
        ("Thu, 10 Jun 2021 09:00:00 GMT", 3600.0),
        ("Thu, 10 Jun 2021 07:00:00 GMT", 0.0),  # in the past: retry now
        ("Thursday, 10-Jun-21 08:30:00 GMT", 1800.0),  # obsolete RFC 850 form, still valid HTTP
        ("Thu, 10 Jun 2021 09:00:00", 3600.0),  # no zone: UTC
        ("-5", None),
        ("-3", None),
        ("+5", None),
        ("1e3", None),
        ("1_000", None),
        ("nan", None),
        ("inf", None),
        ("٣", None),  # a digit, but not an ASCII one
        ("soon", None),
        ("garbage", None),
        ("", None),
    ],
)
def test_delay_seconds_and_http_dates_are_read_and_anything_else_is_none(
    value: str, seconds: float | None
) -> None:
    assert parse_retry_after(value, NOW, cap=FEED_CAP) == seconds


@pytest.mark.parametrize(
    ("value", "cap"),
    [
        ("9" * 400, FEED_CAP),
        ("10" * 40, SINK_CAP),
        ("Wed, 21 Oct 2999 07:28:00 GMT", SINK_CAP),
        ("Wed, 21 Oct 2999 07:28:00 GMT", FEED_CAP),
    ],
)
def test_a_wait_longer_than_the_cap_is_the_cap(value: str, cap: float) -> None:
    assert parse_retry_after(value, NOW, cap=cap) == cap


@given(st.text(max_size=80))
def test_any_text_gives_none_or_a_wait_within_the_cap(value: str) -> None:
    seconds = parse_retry_after(value, NOW, cap=FEED_CAP)
    assert seconds is None or 0.0 <= seconds <= FEED_CAP


@given(st.integers(min_value=0, max_value=10**30))
def test_any_delay_seconds_is_read(value: int) -> None:
    assert parse_retry_after(str(value), NOW, cap=FEED_CAP) == min(float(min(value, 10**15)), FEED_CAP)


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)))
def test_any_http_date_is_seconds_from_now(moment: datetime) -> None:
    moment = moment.replace(microsecond=0, tzinfo=UTC)
    expected = min(max((moment - NOW).total_seconds(), 0.0), FEED_CAP)
    assert parse_retry_after(moment.strftime("%a, %d %b %Y %H:%M:%S GMT"), NOW, cap=FEED_CAP) == expected


def test_feeds_may_be_held_off_longer_than_deliveries() -> None:
    assert (SINK_CAP, FEED_CAP) == (86_400.0, 7 * 86_400.0)


@pytest.mark.parametrize(("value", "seconds"), [(None, None), ("", None), ("10" * 40, SINK_CAP), ("7", 7.0)])
def test_the_sinks_read_an_absent_header_as_none_and_cap_at_a_day(
    value: str | None, seconds: float | None
) -> None:
    assert parse_retry_after_seconds(value) == seconds


def test_the_sinks_read_an_http_date_as_seconds_from_now() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    value = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after_seconds(value, now) == 90.0

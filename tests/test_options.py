"""The building blocks of config tables: durations, and their shortest spelling."""

from __future__ import annotations

import math

import pytest

from service.options import format_duration, parse_backfill, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0),
        ("90s", 90.0),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("250ms", 0.25),
        ("1.5m", 90.0),
    ],
)
def test_durations_accept_seconds_and_units(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5 minutes", "-1", "m5", "", True])
def test_bad_durations_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(300, "5m"), (7200, "2h"), (86400, "1d"), (90, "90s"), (0.25, "0.25s")]
)
def test_a_duration_is_shown_in_its_shortest_exact_unit(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


def test_backfill_all_is_every_item() -> None:
    assert parse_backfill("all") == math.inf
    assert parse_backfill("2h") == 7200.0

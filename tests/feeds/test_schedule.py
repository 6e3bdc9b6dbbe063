"""Poll scheduling: backoff, Retry-After, validators, ttl/max-age, adaptive interval (no clock, no I/O)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from service.errors import FeedGone, FeedParseError, FetchError
from service.feeds.result import FetchResult
from service.feeds.schedule import (
    DISABLE_AFTER,
    MAX_BACKOFF,
    adaptive_interval,
    backoff_delay,
    next_state_after_failure,
    next_state_after_success,
)
from service.models import FeedState

NOW = datetime(2021, 6, 10, 8, 0, tzinfo=UTC)


def make_result(**changes: object) -> FetchResult:
    fields: dict[str, object] = {
        "status": 200,
        "body": b"<rss/>",
        "headers": {},
        "url": "https://a.example/feed",
        "permanent_url": None,
        "etag": None,
        "last_modified": None,
        "not_modified": False,
        "max_age": None,
        "elapsed": 0.1,
    }
    fields.update(changes)
    return FetchResult(**fields)  # type: ignore[arg-type]


def seconds_until(state: FeedState) -> float:
    assert state.next_poll is not None
    return (state.next_poll - NOW).total_seconds()


def test_success_resets_failures_and_schedules_the_interval() -> None:
    state = FeedState(name="f", failures=7, last_error="HTTP 500")
    after = next_state_after_success(state, now=NOW, interval=300, result=make_result(), ttl_seconds=None)
    assert (after.failures, after.last_error, after.last_success, after.first_polled) == (0, None, NOW, NOW)
    assert seconds_until(after) == 300


def test_validators_are_replaced_on_200_and_cleared_when_the_server_stops_sending_them() -> None:
    state = FeedState(name="f", etag='W/"abc"', last_modified="Wed, 09 Jun 2021 10:00:00 GMT")
    after = next_state_after_success(state, now=NOW, interval=60, result=make_result(), ttl_seconds=None)
    assert (after.etag, after.last_modified) == (None, None)
    fresh = make_result(etag='"new"', last_modified="Thu, 10 Jun 2021 07:00:00 GMT")
    after = next_state_after_success(state, now=NOW, interval=60, result=fresh, ttl_seconds=None)
    assert (after.etag, after.last_modified) == ('"new"', "Thu, 10 Jun 2021 07:00:00 GMT")


def test_not_modified_keeps_the_stored_validators() -> None:
    state = FeedState(name="f", etag='W/"abc"', last_modified="Wed, 09 Jun 2021 10:00:00 GMT")
    result = make_result(status=304, body=b"", not_modified=True)
    after = next_state_after_success(state, now=NOW, interval=60, result=result, ttl_seconds=None)
    assert (after.etag, after.last_modified) == (state.etag, state.last_modified)


def test_permanent_redirect_updates_the_url_and_a_temporary_one_does_not() -> None:
    state = FeedState(name="f", url=None)
    moved = make_result(permanent_url="https://new.example/feed")
    assert next_state_after_success(state, now=NOW, interval=60, result=moved, ttl_seconds=None).url == (
        "https://new.example/feed"
    )
    assert (
        next_state_after_success(state, now=NOW, interval=60, result=make_result(), ttl_seconds=None).url
        is None
    )


@pytest.mark.parametrize(
    ("ttl", "max_age", "max_interval", "expected"),
    [
        (None, None, None, 300),
        (900.0, None, None, 900),  # ttl lengthens
        (60.0, None, None, 300),  # never shortens
        (None, 1200.0, None, 1200),
        (86400.0 * 7, None, None, 3600),  # capped at the default hint cap
        (86400.0 * 7, None, 7200.0, 7200),  # or at max_interval
    ],
)
def test_ttl_and_max_age_lengthen_the_delay_within_a_cap(
    ttl: float | None, max_age: float | None, max_interval: float | None, expected: float
) -> None:
    after = next_state_after_success(
        FeedState(name="f"),
        now=NOW,
        interval=300,
        result=make_result(max_age=max_age),
        ttl_seconds=ttl,
        max_interval=max_interval,
    )
    assert seconds_until(after) == expected


def test_adaptive_interval_is_half_the_median_gap_clamped() -> None:
    hourly = [NOW - timedelta(hours=h) for h in range(1, 10)]
    assert adaptive_interval(hourly, now=NOW, min_interval=60, max_interval=86400) == 1800
    assert adaptive_interval(hourly, now=NOW, min_interval=3600, max_interval=86400) == 3600
    assert adaptive_interval(hourly, now=NOW, min_interval=60, max_interval=600) == 600
    assert (
        adaptive_interval([NOW, NOW - timedelta(hours=1)], now=NOW, min_interval=1, max_interval=1e9) is None
    )


def test_success_uses_the_adaptive_interval_only_when_bounds_are_given() -> None:
    dates = [NOW - timedelta(minutes=10 * k) for k in range(1, 6)]
    kwargs = {
        "now": NOW,
        "interval": 300.0,
        "result": make_result(),
        "ttl_seconds": None,
        "item_dates": dates,
    }
    assert seconds_until(next_state_after_success(FeedState(name="f"), **kwargs)) == 300  # type: ignore[arg-type]
    adaptive = next_state_after_success(FeedState(name="f"), min_interval=60, max_interval=3600, **kwargs)  # type: ignore[arg-type]
    assert seconds_until(adaptive) == 300  # half of the 10-minute cadence


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(1)
    for failures in range(1, 12):
        ceiling = min(MAX_BACKOFF, 60 * 2 ** (failures - 1))
        delay = backoff_delay(60, failures, rng)
        assert ceiling / 2 <= delay <= ceiling
    assert backoff_delay(60, 10**6, rng) <= MAX_BACKOFF


def test_failure_counts_up_and_backs_off() -> None:
    state = FeedState(name="f")
    for count in range(1, 6):
        state = next_state_after_failure(
            state, now=NOW, interval=60, error=FetchError("HTTP 500", status=500), rng=random.Random(count)
        )
        assert state.failures == count
        assert 30 * 2 ** (count - 1) <= seconds_until(state) <= 60 * 2 ** (count - 1)
    assert state.last_error == "HTTP 500"
    assert state.disabled_reason is None


@pytest.mark.parametrize("retry_after", [3600.0, 86400.0])
def test_retry_after_is_a_floor_on_the_next_poll(retry_after: float) -> None:
    error = FetchError("HTTP 429", status=429, retry_after=retry_after)
    after = next_state_after_failure(
        FeedState(name="f"), now=NOW, interval=60, error=error, rng=random.Random(0)
    )
    assert seconds_until(after) >= retry_after


def test_gone_disables_the_feed_at_once() -> None:
    after = next_state_after_failure(
        FeedState(name="f"),
        now=NOW,
        interval=60,
        error=FeedGone("HTTP 410", status=410),
        rng=random.Random(0),
    )
    assert after.disabled_reason
    assert "410" in after.disabled_reason
    assert after.next_poll is None


def test_persistent_failures_disable_the_feed_after_the_documented_count() -> None:
    state = FeedState(name="f", failures=DISABLE_AFTER - 2)
    error = FeedParseError("not a feed")
    state = next_state_after_failure(state, now=NOW, interval=60, error=error, rng=random.Random(0))
    assert state.disabled_reason is None
    state = next_state_after_failure(state, now=NOW, interval=60, error=error, rng=random.Random(0))
    assert state.disabled_reason is not None
    assert str(DISABLE_AFTER) in state.disabled_reason

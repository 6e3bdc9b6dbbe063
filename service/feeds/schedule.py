"""When to poll a feed next: pure functions of the previous state, the outcome and `now`.

After a success (`next_state_after_success`):
  - failures reset to 0; validators replaced by the response's (an ETag the server stopped sending
    is cleared), but kept on 304 / empty 200 unless the server sent new ones;
  - the stored URL becomes the permanent redirect target when every hop was 301/308;
  - the delay is the configured `interval`, or, when `min_interval` and `max_interval` are both
    given and the feed has at least two distinct past item dates, the adaptive interval (half the
    median gap between the most recent 20 distinct item dates, clamped to [min, max]);
  - the feed's own hints (RSS `<ttl>`, `Cache-Control: max-age`) lengthen the delay, never shorten
    it, and are honoured only up to `max_interval` (1 hour when none is given), so a feed claiming
    `ttl` of a week is not silenced for a week.

After a failure (`next_state_after_failure`):
  - failures + 1; delay = `interval * 2**(failures - 1)` capped at `max_backoff` (6 h), with
    "equal jitter" (between half and all of it) so feeds on one host do not retry in lockstep;
  - a Retry-After (429/503) is a floor on the delay (capped at 7 days);
  - 410 Gone disables the feed at once; DISABLE_AFTER (100) consecutive failures disable it too
    (at a 5 min interval that is roughly three weeks of 6-hourly retries).
"""

from __future__ import annotations

import itertools
import random
import statistics
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from service.errors import FeedGone, FeedParseError, FetchError
from service.feeds.result import FetchResult
from service.models import FeedState

DISABLE_AFTER = 100
MAX_BACKOFF = 6 * 3600.0
# A feed that asks for days is only polled less often, so it may ask for up to a week; a delivery
# waits at most a day (sinks.base), as an alert held longer than that is no longer news.
MAX_RETRY_AFTER = 7 * 86400.0
DEFAULT_HINT_CAP = 3600.0
ADAPTIVE_SAMPLE = 20


def next_state_after_success(
    state: FeedState,
    *,
    now: datetime,
    interval: float,
    result: FetchResult | None,
    ttl_seconds: float | None,
    min_interval: float | None = None,
    max_interval: float | None = None,
    item_dates: Iterable[datetime] = (),
) -> FeedState:
    """The state after a poll that fetched (and, for a 200, parsed) the feed; see the module doc."""
    delay = _base_delay(interval, now, min_interval, max_interval, item_dates)
    hint = max(ttl_seconds or 0.0, (result.max_age if result else None) or 0.0)
    delay = max(delay, min(hint, max_interval or DEFAULT_HINT_CAP))
    return replace(
        _with_response(state, result),
        next_poll=now + timedelta(seconds=delay),
        failures=0,
        last_success=now,
        last_error=None,
        first_polled=state.first_polled or now,
    )


def next_state_after_failure(
    state: FeedState,
    *,
    now: datetime,
    interval: float,
    error: FetchError | FeedParseError,
    rng: random.Random,
    max_backoff: float = MAX_BACKOFF,
    disable_after: int = DISABLE_AFTER,
) -> FeedState:
    """The state after a failed poll; see the module doc for backoff and disabling."""
    failures = state.failures + 1
    disabled = _disabled_reason(error, failures, disable_after)
    delay = max(backoff_delay(interval, failures, rng, cap=max_backoff), _retry_after(error))
    return replace(
        state,
        failures=failures,
        last_error=str(error)[:500],
        disabled_reason=disabled or state.disabled_reason,
        next_poll=None if disabled else now + timedelta(seconds=delay),
        first_polled=state.first_polled or now,
    )


def backoff_delay(interval: float, failures: int, rng: random.Random, *, cap: float = MAX_BACKOFF) -> float:
    """Exponential backoff with equal jitter: uniform in [d/2, d], d = min(cap, interval·2^(n-1))."""
    exponent = min(max(failures - 1, 0), 40)  # 2**40 × any sane interval is far beyond the cap
    ceiling = min(cap, max(interval, 1.0) * 2.0**exponent)
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def adaptive_interval(
    dates: Iterable[datetime], *, now: datetime, min_interval: float, max_interval: float
) -> float | None:
    """Half the median gap between the newest ADAPTIVE_SAMPLE distinct item dates, clamped.

    Dates equal to or after `now` are ignored (build_items stamps undated items with `now`, so they
    say nothing about cadence). Returns None with fewer than two usable dates.
    """
    usable = sorted({d for d in dates if d < now}, reverse=True)[:ADAPTIVE_SAMPLE]
    if len(usable) < 2:
        return None
    gaps = [(newer - older).total_seconds() for newer, older in itertools.pairwise(usable)]
    return min(max(statistics.median(gaps) / 2, min_interval), max_interval)


def _base_delay(
    interval: float,
    now: datetime,
    min_interval: float | None,
    max_interval: float | None,
    item_dates: Iterable[datetime],
) -> float:
    if min_interval is None or max_interval is None:
        return interval
    adaptive = adaptive_interval(item_dates, now=now, min_interval=min_interval, max_interval=max_interval)
    return interval if adaptive is None else adaptive


def _with_response(state: FeedState, result: FetchResult | None) -> FeedState:
    if result is None:
        return state
    url = result.permanent_url or state.url
    if result.not_modified:
        return replace(
            state,
            url=url,
            etag=result.etag or state.etag,
            last_modified=result.last_modified or state.last_modified,
        )
    return replace(state, url=url, etag=result.etag, last_modified=result.last_modified)


def _disabled_reason(error: FetchError | FeedParseError, failures: int, disable_after: int) -> str | None:
    if isinstance(error, FeedGone):
        return "the feed is gone (HTTP 410)"
    if failures >= disable_after:
        return f"{failures} consecutive failures; last: {str(error)[:200]}"
    return None


def _retry_after(error: FetchError | FeedParseError) -> float:
    if isinstance(error, FetchError) and error.retry_after is not None:
        return min(max(error.retry_after, 0.0), MAX_RETRY_AFTER)
    return 0.0

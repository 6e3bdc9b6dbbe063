"""What the HTTP sinks (Telegram, webhooks) share: which failures are ambiguous, which statuses are
worth a retry, and how a `Retry-After` answer is read."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp

from service.errors import PermanentDeliveryError, RetryLater
from service.retry_after import parse_retry_after
from service.sinks.base import MAX_RETRY_AFTER

# Failures after the request may have reached the server: a retry can duplicate, so they are logged
# as ambiguous (webhook-id and the alert id let receivers tell).
AMBIGUOUS_HTTP_ERRORS = (
    TimeoutError,
    aiohttp.ServerDisconnectedError,
    aiohttp.ClientPayloadError,
    aiohttp.ClientOSError,
)
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def classify_http(status: int, body: str, retry_after: float | None) -> None:
    """Raise the right error for a non-2xx answer from an HTTP endpoint (webhooks, Slack, Discord)."""
    snippet = " ".join(body.split())[:200]
    if status in RETRY_STATUSES or status >= 500:
        raise RetryLater(f"HTTP {status}: {snippet}", retry_after)
    raise PermanentDeliveryError(f"HTTP {status}: {snippet}")


def parse_retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    return parse_retry_after(value, now or datetime.now(UTC), cap=MAX_RETRY_AFTER)

"""The interface every sink implements, and the helpers they share."""

from __future__ import annotations

from typing import Protocol

from service.errors import PermanentDeliveryError, RetryLater
from service.models import Alert

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class Sink(Protocol):
    name: str
    kind: str

    async def send(self, alert: Alert) -> None:
        """Deliver or raise: RetryLater for transient failures, PermanentDeliveryError otherwise."""

    async def close(self) -> None: ...


def classify_http(status: int, body: str, retry_after: float | None) -> None:
    """Raise the right error for a non-2xx answer from an HTTP endpoint (webhooks, Slack, Discord)."""
    snippet = " ".join(body.split())[:200]
    if status in RETRY_STATUSES or status >= 500:
        raise RetryLater(f"HTTP {status}: {snippet}", retry_after)
    raise PermanentDeliveryError(f"HTTP {status}: {snippet}")


def parse_retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds; an HTTP date is turned into seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())

"""The interface every sink implements, and the helpers they share.

A sink's `send` returns when the destination accepted the alert and raises otherwise:
- `RetryLater` for a transient failure (with the delay the destination asked for, if any);
- `Throttled` (a RetryLater) when the sink chose not to send yet to respect a rate limit: nothing was
  attempted, so the outbox sets the sink aside for `delay` seconds without counting an attempt;
- `PermanentDeliveryError` when this alert will never get through as it stands (it is parked).

`send` may return a receipt (a short string, such as the ids of the messages it sent); the outbox keeps
it with the delivery. A sink that can change a message it sent implements `edit(alert, receipt)`
(`EditableSink`): when a later copy of the story names another outlet, the outbox hands it the alert
with its new `also_reported_by` and that receipt. It raises as `send` does; a message that can no
longer be edited is a `PermanentDeliveryError` (the edit is parked, nothing is sent instead).

Optional attributes the outbox reads when present:
- `concurrency` (int, default 1): deliveries in flight at once for this sink. 1 keeps its order.
- `digest` (seconds or None) together with `send_batch(alerts)`: the outbox collects this sink's
  deliveries until the window of the oldest closes, then hands them over in one call.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import aiohttp

from service.errors import PermanentDeliveryError, RetryLater
from service.models import Alert
from service.retry_after import parse_retry_after

# Failures after the request may have reached the server: a retry can duplicate, so they are logged
# as ambiguous (webhook-id and the alert id let receivers tell).
AMBIGUOUS_HTTP_ERRORS = (
    TimeoutError,
    aiohttp.ServerDisconnectedError,
    aiohttp.ClientPayloadError,
    aiohttp.ClientOSError,
)
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# A destination asking for more than a day is not taken at its word (nor is a date in 2099).
MAX_RETRY_AFTER = 86_400.0


class Sink(Protocol):
    name: str
    kind: str

    async def send(self, alert: Alert) -> str | None:
        """Deliver or raise: RetryLater for transient failures, PermanentDeliveryError otherwise.

        Returns a receipt to keep with the delivery, or None."""

    async def close(self) -> None: ...


@runtime_checkable
class EditableSink(Protocol):
    """A sink that can update a message it sent (Telegram's editMessageText)."""

    name: str

    async def edit(self, alert: Alert, receipt: str) -> None: ...


@runtime_checkable
class BatchSink(Protocol):
    """A sink that can send several alerts as one message (an email digest)."""

    name: str
    digest: float | None

    async def send_batch(self, alerts: Sequence[Alert]) -> None: ...


class SinkConfigError(ValueError):
    """A sink cannot be built from its settings (a template that does not compile, an unknown Apprise
    URL). `path` is the config key (`sinks.ops.template`), `reason` what is wrong with it; the
    composition root reports it as a config problem."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class Throttled(RetryLater):
    """Not sent, on purpose: a rate limit says wait `delay` seconds. Not a failed attempt."""

    delay: float

    def __init__(self, message: str, delay: float) -> None:
        super().__init__(message, delay)


def concurrency_of(sink: object) -> int:
    return max(1, int(getattr(sink, "concurrency", 1) or 1))


def digest_of(sink: object) -> float | None:
    """The digest window in seconds when this sink batches, else None."""
    window = getattr(sink, "digest", None)
    if isinstance(sink, BatchSink) and isinstance(window, int | float) and window > 0:
        return float(window)
    return None


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


K = TypeVar("K")
V = TypeVar("V")


class Memo(Generic[K, V]):
    """A small bounded mapping (oldest entries fall out): per-alert progress a sink keeps between
    attempts. It lives in memory only, so a restart forgets it; each user documents what that costs."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        return self._data.get(key)

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self._size:
            self._data.popitem(last=False)

    def drop(self, key: K) -> None:
        self._data.pop(key, None)

    def __len__(self) -> int:
        return len(self._data)


def log_ambiguous(log: Any, sink: str, alert: str, error: str) -> None:
    """The destination may have the message although we saw no answer: a retry may duplicate it once."""
    log.warning("delivery_ambiguous", sink=sink, alert=alert, error=error)

"""The interface every sink implements, as the outbox drives it.

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

`close` is called once when the runtime stops, and when a config reload replaces the sink.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from service.errors import RetryLater
from service.models import Alert

if TYPE_CHECKING:
    from service.logs import Logger

# A destination asking for more than a day is not taken at its word (nor is a date in 2099).
MAX_RETRY_AFTER = 86_400.0


class Sink(Protocol):
    name: str

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


def log_ambiguous(log: Logger, sink: str, alert: str, error: str) -> None:
    """The destination may have the message although we saw no answer: a retry may duplicate it once."""
    log.warning("delivery_ambiguous", sink=sink, alert=alert, error=error)

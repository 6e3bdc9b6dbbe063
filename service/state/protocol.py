"""The one store protocol every backend implements (the embedded SQLite store, Redis)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from service.models import Alert, FeedState


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    PARKED = "parked"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One (alert, sink) pair in the outbox and where it stands."""

    alert: Alert
    sink: str
    status: DeliveryStatus
    attempts: int = 0
    next_attempt: datetime | None = None
    last_error: str | None = None


class Store(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise StoreError when the store cannot be reached."""

    async def get_feed_state(self, feed: str) -> FeedState | None: ...

    async def put_feed_state(self, state: FeedState) -> None: ...

    async def all_feed_states(self) -> list[FeedState]: ...

    async def unseen_items(self, feed: str, ids: Sequence[str], now: datetime) -> list[str]:
        """The ids this feed has not produced before (unexpired), in the order given."""

    async def remember_items(self, feed: str, ids: Sequence[str], now: datetime) -> None: ...

    async def enqueue_alert(self, alert: Alert, sinks: Sequence[str], now: datetime) -> bool:
        """Record the alert and one pending delivery per sink, unless this alert id is known already.

        Returns False when the alert existed (the same watchlist and story alerted before); an enqueue
        repeated after a crash or a retry therefore adds nothing.
        """

    async def due_deliveries(self, now: datetime, limit: int = 100) -> list[Delivery]: ...

    async def mark_delivered(self, alert_id: str, sink: str, now: datetime) -> None: ...

    async def schedule_retry(self, alert_id: str, sink: str, at: datetime, error: str) -> None: ...

    async def park(self, alert_id: str, sink: str, reason: str, now: datetime) -> None: ...

    async def deliveries(self, status: DeliveryStatus | None = None, limit: int = 1000) -> list[Delivery]: ...

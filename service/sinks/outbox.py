"""Sends what the store's outbox holds: every (alert, sink) ends delivered, or parked with its reason.

Each sink works through its own queue, so a slow or broken sink never delays the others.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from service.errors import PermanentDeliveryError, RetryLater
from service.sinks.base import Sink
from service.state.protocol import Delivery, Store
from service.telemetry import NullTelemetry, Telemetry


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_delay: float = 5.0
    max_delay: float = 3600.0
    max_attempts: int = 12

    def delay(self, attempts: int, asked: float | None, rng: random.Random) -> float:
        """Exponential backoff with full jitter in [50%, 100%], never sooner than the sink asked."""
        backoff = min(self.max_delay, self.base_delay * 2 ** max(0, attempts - 1))
        backoff *= 0.5 + rng.random() / 2
        return float(max(backoff, asked or 0.0))


@dataclass(slots=True)
class DeliveryStats:
    delivered: int = 0
    retried: int = 0
    parked: int = 0
    by_sink: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    def count(self, sink: str, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        self.by_sink[sink][outcome] += 1


class Outbox:
    def __init__(
        self,
        store: Store,
        sinks: Mapping[str, Sink],
        *,
        clock: Callable[[], datetime],
        log: Any,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        send_timeout: float = 60.0,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._store = store
        self._sinks = sinks
        self._clock = clock
        self._log = log
        self._policy = policy or RetryPolicy()
        self._rng = rng or random.Random()
        self._send_timeout = send_timeout
        self._telemetry: Telemetry = telemetry or NullTelemetry()

    async def deliver_due(self, limit: int = 500) -> DeliveryStats:
        """One pass over every delivery that is due now."""
        stats = DeliveryStats()
        due = await self._store.due_deliveries(self._clock(), limit)
        queues: dict[str, list[Delivery]] = defaultdict(list)
        for delivery in due:
            queues[delivery.sink].append(delivery)
        await asyncio.gather(*(self._drain(sink, queue, stats) for sink, queue in queues.items()))
        return stats

    async def _drain(self, sink_name: str, queue: list[Delivery], stats: DeliveryStats) -> None:
        sink = self._sinks.get(sink_name)
        for delivery in queue:
            if sink is None:
                await self._park(delivery, "the sink is no longer configured", stats)
                continue
            if not await self._attempt(sink, delivery, stats):
                # The sink is failing: leave the rest of its queue for the next pass.
                break

    async def _attempt(self, sink: Sink, delivery: Delivery, stats: DeliveryStats) -> bool:
        alert, attempt = delivery.alert, delivery.attempts + 1
        log = self._log.bind(alert=alert.id, watchlist=alert.watchlist, sink=sink.name, attempt=attempt)
        started = self._clock()
        try:
            await asyncio.wait_for(sink.send(alert), self._send_timeout)
        except PermanentDeliveryError as exc:
            await self._park(delivery, str(exc), stats)
            return True
        except (RetryLater, TimeoutError) as exc:
            return not await self._retry(delivery, exc, stats, log)
        await self._store.mark_delivered(alert.id, sink.name, self._clock())
        stats.count(sink.name, "delivered")
        elapsed = (self._clock() - started).total_seconds()
        self._telemetry.delivery_finished(sink.name, "delivered", elapsed)
        log.info("alert_delivered", duration_ms=int(elapsed * 1000))
        return True

    async def _retry(self, delivery: Delivery, exc: Exception, stats: DeliveryStats, log: Any) -> bool:
        """Schedule the next attempt (or park after too many); True when the sink looks unhealthy."""
        attempts = delivery.attempts + 1
        if attempts >= self._policy.max_attempts:
            await self._park(delivery, f"gave up after {attempts} attempts: {exc}", stats)
            return True
        asked = exc.delay if isinstance(exc, RetryLater) else None
        delay = self._policy.delay(attempts, asked, self._rng)
        at = self._clock() + timedelta(seconds=delay)
        await self._store.schedule_retry(delivery.alert.id, delivery.sink, at, str(exc) or type(exc).__name__)
        stats.count(delivery.sink, "retried")
        self._telemetry.delivery_finished(delivery.sink, "retried", None)
        log.warning("alert_delivery_failed", error=str(exc) or type(exc).__name__, retry_in_s=round(delay, 1))
        return True

    async def _park(self, delivery: Delivery, reason: str, stats: DeliveryStats) -> None:
        await self._store.park(delivery.alert.id, delivery.sink, reason, self._clock())
        stats.count(delivery.sink, "parked")
        self._telemetry.delivery_finished(delivery.sink, "parked", None)
        self._log.error(
            "alert_parked",
            alert=delivery.alert.id,
            watchlist=delivery.alert.watchlist,
            sink=delivery.sink,
            error=reason,
        )

"""What the pipeline and the outbox report as they work, through an interface that imports nothing.

The Prometheus implementation lives in `service.metrics`; `NullTelemetry` is used when nobody listens.
"""

from __future__ import annotations

from typing import Protocol


class Telemetry(Protocol):
    def poll_finished(self, feed: str, status: str, duration: float, items: int, new: int) -> None: ...

    def matched(self, watchlist: str) -> None: ...

    def alert_created(self, watchlist: str) -> None: ...

    def event_decided(self, how: str) -> None:
        """A matched copy met the event index: "new", "text", "anchors" or "again"."""

    def delivery_finished(self, sink: str, outcome: str, duration: float | None) -> None: ...

    def poll_started(self, lag: float) -> None:
        """A poll started `lag` seconds after its feed was due."""

    def polls_waiting(self, count: int) -> None:
        """Feeds due whose poll has not started (after the scheduler's latest batch of starts)."""


class NullTelemetry:
    def poll_finished(self, feed: str, status: str, duration: float, items: int, new: int) -> None:
        return None

    def matched(self, watchlist: str) -> None:
        return None

    def alert_created(self, watchlist: str) -> None:
        return None

    def event_decided(self, how: str) -> None:
        return None

    def delivery_finished(self, sink: str, outcome: str, duration: float | None) -> None:
        return None

    def poll_started(self, lag: float) -> None:
        return None

    def polls_waiting(self, count: int) -> None:
        return None

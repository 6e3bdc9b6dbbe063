"""Prometheus metrics: the `Telemetry` implementation the service wires in, and the text /metrics serves."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

# The *_created series double the output and no dashboard here reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# Polls start when due: a healthy scheduler stays in the first buckets, a starved one climbs to minutes.
_LAG_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600)


class Metrics:
    """Every metric newsalert exports, on a registry of its own (tests can build several)."""

    def __init__(self, by_feed: bool = True) -> None:
        # Per-feed series cost ~1.4 KB each and a scrape of 50,000 feeds' takes seconds of CPU; without
        # them every feed counts under feed="*" (`feeds status` and the logs still name the feed).
        self.by_feed = by_feed
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter("newsalert_polls", "Feed polls by outcome", ["feed", "status"], registry=r)
        self.fetch_errors = Counter("newsalert_fetch_errors", "Failed feed polls", ["feed"], registry=r)
        self.items_seen = Counter("newsalert_items_seen", "Items read from feeds", ["feed"], registry=r)
        self.items_new = Counter("newsalert_items_new", "Items not seen before", ["feed"], registry=r)
        self.matches = Counter("newsalert_matches", "Items matched, per watchlist", ["watchlist"], registry=r)
        self.alerts = Counter(
            "newsalert_alerts_created", "Alerts recorded in the outbox", ["watchlist"], registry=r
        )
        self.event_copies = Counter(
            "newsalert_event_copies",
            "Matched copies by how the event index placed them (new, text, anchors, again)",
            ["how"],
            registry=r,
        )
        self.deliveries = Counter(
            "newsalert_deliveries",
            "Delivery attempts by outcome (delivered, retried, parked)",
            ["sink", "outcome"],
            registry=r,
        )
        self.outbox_depth = Gauge("newsalert_outbox_pending", "Deliveries waiting in the outbox", registry=r)
        self.poll_latency = Histogram(
            "newsalert_poll_duration_seconds", "Time for one feed poll", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.delivery_latency = Histogram(
            "newsalert_delivery_duration_seconds",
            "Time for one successful delivery",
            ["sink"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.reloads = Counter(
            "newsalert_config_reloads", "Config reloads by outcome", ["outcome"], registry=r
        )
        self.heartbeat = Gauge(
            "newsalert_heartbeat_timestamp_seconds", "Last worker loop tick (Unix time)", registry=r
        )
        self.feeds = Gauge("newsalert_feeds", "Feeds configured and enabled", registry=r)
        self.polls_due = Gauge("newsalert_polls_due", "Feeds due whose poll has not started yet", registry=r)
        self.poll_lag = Histogram(
            "newsalert_poll_lag_seconds",
            "How long after its due time a poll started",
            buckets=_LAG_BUCKETS,
            registry=r,
        )

    def poll_finished(self, feed: str, status: str, duration: float, items: int, new: int) -> None:
        feed = feed if self.by_feed else "*"
        self.polls.labels(feed, status).inc()
        if status == "failed":
            self.fetch_errors.labels(feed).inc()
        self.items_seen.labels(feed).inc(items)
        self.items_new.labels(feed).inc(new)
        self.poll_latency.observe(duration)

    def poll_started(self, lag: float) -> None:
        self.poll_lag.observe(max(0.0, lag))

    def polls_waiting(self, count: int) -> None:
        self.polls_due.set(count)

    def matched(self, watchlist: str) -> None:
        self.matches.labels(watchlist).inc()

    def alert_created(self, watchlist: str) -> None:
        self.alerts.labels(watchlist).inc()

    def event_decided(self, how: str) -> None:
        self.event_copies.labels(how).inc()

    def delivery_finished(self, sink: str, outcome: str, duration: float | None) -> None:
        self.deliveries.labels(sink, outcome).inc()
        if duration is not None:
            self.delivery_latency.labels(sink).observe(duration)

    def render(self) -> bytes:
        return generate_latest(self.registry)

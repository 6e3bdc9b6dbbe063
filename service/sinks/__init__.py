"""Where alerts go. Every sink is an object behind one small interface (`Sink`); the outbox drives them.

Each kind of sink is one module exporting `SINK = SinkType(...)` (`service.registry`): its options model,
how to build it and how `check` describes it; settings, the composition root and `check` find it there.
Today: `telegram`, `webhook`, `smtp` (email), `console`, `apprise_sink`.

Shared parts: `base` (the interface and `Throttled`), `http` (what the HTTP sinks share), `memo`
(per-alert progress), `render` (built-in messages, pure), `templates` (per-sink Jinja2 templates,
sandboxed), `split` (Telegram's length and markup rules, pure), `pacing` (rate limits on an injected
clock), and `outbox` (retries, parking, digests, per-sink concurrency).
"""

from service.sinks.base import BatchSink, Sink, Throttled

__all__ = ["BatchSink", "Sink", "Throttled"]

"""Where alerts go. Every sink is an object behind one small interface (`Sink`); the outbox drives them.

Modules: `base` (the interface, shared helpers, `Throttled`), `render` (built-in messages, pure),
`templates` (per-sink Jinja2 templates, sandboxed), `split` (Telegram's length and markup rules, pure),
`pacing` (rate limits on an injected clock), one module per sink (`telegram`, `webhook`, `smtp`,
`console`, `apprise_sink`), and `outbox` (retries, parking, digests, per-sink concurrency).
"""

from service.sinks.base import BatchSink, Sink, SinkConfigError, Throttled

__all__ = ["BatchSink", "Sink", "SinkConfigError", "Throttled"]

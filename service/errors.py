"""The exceptions newsalert raises, under one root.

NewsalertError
├── UserError                 a mistake the user can fix; printed without a traceback, exit 2
│   ├── ConfigError           the config file is unreadable or invalid (carries every problem)
│   └── QuerySyntaxError      a watchlist query does not parse (carries the column)
├── OptionError               an adapter cannot be built from its options (the caller adds where)
├── FeedError                 one feed could not be polled; logged by name, never fatal
│   ├── FetchError            the HTTP or file fetch failed
│   │   └── FeedGone          the feed answered 410 and should stop being polled
│   └── FeedParseError        the body is not a usable feed
├── StoreError                the state store is unreachable or refused an operation
│   └── StoreLockedError      another process holds the embedded store
└── DeliveryError             a sink could not deliver an alert
    ├── RetryLater            transient; carries the delay the sink asked for
    └── PermanentDeliveryError  will never succeed as is; the delivery is parked
"""

from __future__ import annotations

from dataclasses import dataclass


class NewsalertError(Exception):
    """Root of every exception newsalert raises on purpose."""


class UserError(NewsalertError):
    """A mistake in what the user gave us: shown as one clear message, exit code 2."""


class CannotRun(NewsalertError):
    """The service cannot start here (its HTTP port is taken): one line, exit code 1."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a config file: where it is and what is wrong."""

    path: str
    message: str
    column: int | None = None

    def render(self, file: str) -> str:
        where = f"{file}: {self.path}" if self.path else file
        if self.column is not None:
            where = f"{where} (column {self.column})"
        return f"{where}: {self.message}"


class ConfigError(UserError):
    """The config file is invalid; holds every problem found, not just the first."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems
        super().__init__("\n".join(p.render(file) for p in problems))


class QuerySyntaxError(UserError):
    """A query does not parse. `column` is 1-based, counted in characters of the query."""

    def __init__(self, reason: str, column: int) -> None:
        self.reason = reason
        self.column = column
        super().__init__(f"column {column}: {reason}")


class OptionError(NewsalertError):
    """An adapter cannot be built from its options: a template that does not compile, an unreadable CA
    file, a malformed signing secret. `option` names the option as the adapter knows it (`template`,
    `secret`); the composition root, which knows where the options came from, turns it into a config
    problem with the full key path."""

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"{option}: {reason}")
        self.option = option
        self.reason = reason


class FeedError(NewsalertError):
    """A feed could not be polled this time."""


class FetchError(FeedError):
    """Fetching a feed failed (network, HTTP status, size or time limit)."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class FeedGone(FetchError):
    """The server said 410 Gone: stop polling this feed."""


class FeedParseError(FeedError):
    """The body could not be parsed as a feed."""


class StoreError(NewsalertError):
    """The state store failed."""


class StoreLockedError(StoreError, UserError):
    """Another process already uses this embedded store directory."""


class DeliveryError(NewsalertError):
    """A sink failed to deliver an alert."""


class RetryLater(DeliveryError):
    """A transient failure; try again after `delay` seconds (None: the caller's backoff decides)."""

    def __init__(self, message: str, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class PermanentDeliveryError(DeliveryError):
    """This alert can never be delivered to this sink as it stands."""
